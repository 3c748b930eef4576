package proxy_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
)

// The tests in this file hold the proxy's own HTTP/1.1 forwarding to what
// httputil.ReverseProxy did: bodies both ways, informational answers,
// trailers, keep-alive connections to the app and their failures.

// proxyTo serves a proxy in front of backend and returns its address.
func proxyTo(t *testing.T, backend string) string {
	t.Helper()
	p := proxy.New(proxy.Options{})
	p.Switch(backend)
	return startProxy(t, p)
}

// echoBody answers with the method, the length the app saw and a digest
// of the body it read.
func echoBody(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %d %d %x", r.Method, r.ContentLength, n, h.Sum(nil))
}

// onlyReader hides everything but Read, so the client cannot know the
// length and sends the body chunked.
type onlyReader struct{ io.Reader }

func TestRequestBodies(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	digest := func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	tests := []struct {
		name   string
		method string
		body   io.Reader
		want   string
	}{
		{"get", "GET", nil, "GET 0 0 " + digest("")},
		{"small post", "POST", strings.NewReader("hello"), "POST 5 5 " + digest("hello")},
		{"empty post", "POST", strings.NewReader(""), "POST 0 0 " + digest("")},
		{"large put", "PUT", strings.NewReader(big), fmt.Sprintf("PUT %d %d %s", len(big), len(big), digest(big))},
		{"chunked post", "POST", onlyReader{strings.NewReader(big)}, fmt.Sprintf("POST -1 %d %s", len(big), digest(big))},
	}
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(echoBody)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+addr+"/upload", tt.body)
			res, body := get(t, req)
			if res.StatusCode != http.StatusOK || body != tt.want {
				t.Errorf("%s = %d %q, want 200 %q", tt.method, res.StatusCode, body, tt.want)
			}
		})
	}
}

func TestAppAnswersBeforeReadingTheBody(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "next")
	})))
	res, err := http.Post("http://"+addr+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 8<<20)))
	if err != nil {
		t.Fatalf("Post() = %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("Post() = %d, want the app's 413", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	if res, body := get(t, req); res.StatusCode != http.StatusOK || body != "next" {
		t.Errorf("Get() after = %d %q, want 200 \"next\"", res.StatusCode, body)
	}
}

func TestInformationalAnswersPassThrough(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "page")
	})))
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	res, body := get(t, req)
	if want := "103 </style.css>; rel=preload"; len(hints) != 1 || hints[0] != want {
		t.Errorf("informational answers = %q, want [%q]", hints, want)
	}
	if res.StatusCode != http.StatusOK || body != "page" || res.Header.Get("Link") != "" {
		t.Errorf("final answer = %d %q Link %q, want 200 \"page\" without the hint's header", res.StatusCode, body, res.Header.Get("Link"))
	}
	if ids := res.Header.Values("X-Request-Id"); len(ids) != 1 || !hexID.MatchString(ids[0]) {
		t.Errorf("final answer X-Request-Id = %q, want one id", ids)
	}
}

func TestResponseTrailersPassThrough(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})))
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	res, body := get(t, req)
	if body != "body" || res.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("Get() = %q with trailers %v, want \"body\" and X-Checksum: abc", body, res.Trailer)
	}
}

func TestHeadAndNoContent(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "11")
		io.WriteString(w, "hello world")
	})))
	for _, tt := range []struct {
		method, path string
		code         int
		length       int64
	}{
		{"HEAD", "/", http.StatusOK, 11},
		{"GET", "/none", http.StatusNoContent, 0},
		{"GET", "/", http.StatusOK, 11}, // the connection is still in step
	} {
		req, _ := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
		res, body := get(t, req)
		wantBody := ""
		if tt.method == "GET" && tt.code == http.StatusOK {
			wantBody = "hello world"
		}
		if res.StatusCode != tt.code || res.ContentLength != tt.length || body != wantBody {
			t.Errorf("%s %s = %d length %d %q, want %d length %d %q", tt.method, tt.path, res.StatusCode, res.ContentLength, body, tt.code, tt.length, wantBody)
		}
	}
}

func TestHopByHopResponseHeadersRemoved(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "1")
		w.Header().Set("X-Request-Id", "the-app-sets-its-own-id-too")
	})))
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	res, _ := get(t, req)
	for _, k := range []string{"X-Hop", "Keep-Alive"} {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("client got %s: %q, want it removed", k, v)
		}
	}
	if res.Header.Get("X-Kept") != "1" {
		t.Errorf("client got X-Kept %q, want it passed through", res.Header.Get("X-Kept"))
	}
	if ids := res.Header.Values("X-Request-Id"); len(ids) != 1 || !hexID.MatchString(ids[0]) {
		t.Errorf("client got X-Request-Id %q, want only the proxy's", ids)
	}
}

func TestQueryPassesAsReverseProxyCleansIt(t *testing.T) {
	addr := proxyTo(t, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RequestURI)
	})))
	for in, want := range map[string]string{
		"/a/b?x=1&y=%20":   "/a/b?x=1&y=%20",
		"/a%2Fb?q":         "/a%2Fb?q",
		"/x?a=1;b=2&c=3":   "/x?c=3", // ReverseProxy's cleanQueryParams: a semicolon does not parse
		"/x?bad=%zz&ok=1":  "/x?ok=1",
		"/only?":           "/only?",
		"/caf%C3%A9?k=%C3": "/caf%C3%A9?k=%C3",
	} {
		_, body := rawExchange(t, addr, "GET "+in+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if body != want {
			t.Errorf("the app saw %q for %q, want %q", body, in, want)
		}
	}
}

func TestKeepAliveConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	backend := startBackendWithConns(t, http.HandlerFunc(hello), &conns)
	addr := proxyTo(t, backend)
	for range 20 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		if res, body := get(t, req); res.StatusCode != http.StatusOK || body != "hello" {
			t.Fatalf("Get() = %d %q, want 200 \"hello\"", res.StatusCode, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests one after another opened %d connections to the app, want 1", n)
	}
}

// startBackendWithConns is startBackend counting the connections accepted.
func startBackendWithConns(t *testing.T, h http.Handler, conns *atomic.Int32) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func TestSwitchClosesTheOldKeepAliveConnections(t *testing.T) {
	closed := make(chan struct{}, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(hello), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	p := proxy.New(proxy.Options{})
	p.Switch(l.Addr().String())
	addr := startProxy(t, p)
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	get(t, req)
	p.Switch(startBackend(t, http.HandlerFunc(hello)))
	select {
	case <-closed:
	case <-time.After(guard):
		t.Fatal("the old app's keep-alive connection is still open after Switch")
	}
}

// startClosingApp serves raw HTTP/1.1, closing each connection right after
// its first answer without saying so, as an app server whose keep-alive
// timeout has just expired does. It returns the address and a count of the
// requests answered.
func startClosingApp(t *testing.T) (string, *atomic.Int32) {
	var answered atomic.Int32
	addr := serveRaw(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		answered.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	return addr, &answered
}

func TestConnectionClosedByTheAppIsRetried(t *testing.T) {
	for _, pause := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprintf("reused after %s", pause), func(t *testing.T) {
			app, answered := startClosingApp(t)
			addr := proxyTo(t, app)
			for i := range 3 {
				time.Sleep(pause)
				req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
				if res, body := get(t, req); res.StatusCode != http.StatusOK || body != "ok" {
					t.Errorf("request %d = %d %q, want 200 \"ok\"", i+1, res.StatusCode, body)
				}
			}
			if n := answered.Load(); n != 3 {
				t.Errorf("the app answered %d requests, want 3", n)
			}
		})
	}
}

func TestSlowAppGets504(t *testing.T) {
	slow, slowAddr := newBlocking(t)
	p := proxy.New(proxy.Options{ResponseHeaderTimeout: short})
	p.Switch(slowAddr)
	addr := startProxy(t, p)
	res := getAsync("http://" + addr + "/")
	<-slow.entered
	if r := <-res; r.err != nil || r.code != http.StatusGatewayTimeout {
		t.Errorf("Get() from an app that never answers = %d %v, want 504", r.code, r.err)
	}
}
