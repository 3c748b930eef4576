package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
)

// guard bounds waits that only end early when the code under test is
// broken, so a bug fails the test instead of hanging it. It is not a
// performance assertion.
const guard = 10 * time.Second

var (
	hexID        = regexp.MustCompile(`^[0-9a-f]{32}$`)
	requestStart = regexp.MustCompile(`^t=[0-9]{13}$`)
)

// startProxy serves p on a loopback port until the test ends and returns
// the port's address.
func startProxy(t testing.TB, p *proxy.Proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
	})
	return l.Addr().String()
}

// startBackend serves h on a loopback port until the test ends and
// returns the port's address, as an app process would listen on $PORT.
func startBackend(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// serveRaw accepts connections on a loopback port until the test ends,
// handing each to handle in a goroutine of its own, and returns the port's
// address: an app written byte by byte.
func serveRaw(tb testing.TB, handle func(c net.Conn)) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// seen is what the echo backend reports about the request it got.
type seen struct {
	Host   string
	Header http.Header
}

// echoHeaders answers with the request's Host and headers as JSON.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(seen{Host: r.Host, Header: r.Header})
}

// get sends req through client and returns the response with its body.
func get(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do(%s) = %v", req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", req.URL, err)
	}
	return res, string(body)
}

func TestForwardedHeaders(t *testing.T) {
	const keptID = "abcdefghij0123456789+/=-"
	tests := []struct {
		name      string
		opts      proxy.Options
		in        map[string]string
		wantFor   string
		wantReal  string // "" means the peer, 127.0.0.1
		wantProto string
		wantHost  string
		wantID    string // "" means a generated one
	}{{
		name:      "generated request id",
		wantFor:   "127.0.0.1",
		wantProto: "http",
		wantHost:  "shop.example.com",
	}, {
		name:      "valid incoming request id kept",
		in:        map[string]string{"X-Request-Id": keptID},
		wantFor:   "127.0.0.1",
		wantProto: "http",
		wantHost:  "shop.example.com",
		wantID:    keptID,
	}, {
		name:      "short request id replaced",
		in:        map[string]string{"X-Request-Id": "abc"},
		wantFor:   "127.0.0.1",
		wantProto: "http",
		wantHost:  "shop.example.com",
	}, {
		name:      "request id with spaces replaced",
		in:        map[string]string{"X-Request-Id": "abcdefghij 0123456789 status=200"},
		wantFor:   "127.0.0.1",
		wantProto: "http",
		wantHost:  "shop.example.com",
	}, {
		name:      "untrusted forwarding headers replaced",
		in:        map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
		wantFor:   "127.0.0.1",
		wantProto: "http",
		wantHost:  "shop.example.com",
	}, {
		name:      "trusted forwarding headers kept",
		opts:      proxy.Options{TrustForwarded: true},
		in:        map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com"},
		wantFor:   "203.0.113.9, 127.0.0.1",
		wantReal:  "203.0.113.9",
		wantProto: "https",
		wantHost:  "www.example.com",
	}, {
		name:      "trusted chain: the real ip is the front proxy's peer",
		opts:      proxy.Options{TrustForwarded: true},
		in:        map[string]string{"X-Forwarded-For": "10.6.6.6, 198.51.100.7", "X-Real-Ip": "10.6.6.6"},
		wantFor:   "10.6.6.6, 198.51.100.7, 127.0.0.1",
		wantReal:  "198.51.100.7",
		wantProto: "http",
		wantHost:  "shop.example.com",
	}}
	backend := startBackend(t, http.HandlerFunc(echoHeaders))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := proxy.New(tt.opts)
			p.Switch(backend)
			addr := startProxy(t, p)
			req, _ := http.NewRequest("GET", "http://"+addr+"/path?q=1", nil)
			req.Host = "shop.example.com"
			for k, v := range tt.in {
				req.Header.Set(k, v)
			}
			res, body := get(t, req)
			var got seen
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("backend body %q: %v", body, err)
			}
			checkForwarded(t, got, addr, tt.wantFor, tt.wantProto, tt.wantHost)
			wantReal := tt.wantReal
			if wantReal == "" {
				wantReal = "127.0.0.1"
			}
			if v := got.Header.Values("X-Real-Ip"); len(v) != 1 || v[0] != wantReal {
				t.Errorf("backend X-Real-Ip = %q, want [%q]", v, wantReal)
			}
			checkRequestID(t, got.Header.Get("X-Request-Id"), res.Header.Values("X-Request-Id"), tt.wantID)
		})
	}
}

// checkForwarded compares the X-Forwarded-* headers the backend saw.
func checkForwarded(t *testing.T, got seen, proxyAddr, wantFor, wantProto, wantHost string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(proxyAddr)
	for _, c := range []struct{ key, want string }{
		{"X-Forwarded-For", wantFor},
		{"X-Forwarded-Proto", wantProto},
		{"X-Forwarded-Host", wantHost},
		{"X-Forwarded-Port", port},
	} {
		if v := got.Header.Get(c.key); v != c.want {
			t.Errorf("backend %s = %q, want %q", c.key, v, c.want)
		}
	}
	if got.Host != "shop.example.com" {
		t.Errorf("backend Host = %q, want %q", got.Host, "shop.example.com")
	}
	if v := got.Header.Get("X-Request-Start"); !requestStart.MatchString(v) {
		t.Errorf("backend X-Request-Start = %q, want t=<unix milliseconds>", v)
	}
}

// checkRequestID compares the id the backend saw with the one the client
// got back; want "" means a freshly generated one.
func checkRequestID(t *testing.T, backendID string, clientIDs []string, want string) {
	t.Helper()
	if want == "" && !hexID.MatchString(backendID) {
		t.Errorf("backend X-Request-Id = %q, want 32 hex digits", backendID)
	}
	if want != "" && backendID != want {
		t.Errorf("backend X-Request-Id = %q, want %q", backendID, want)
	}
	if len(clientIDs) != 1 || clientIDs[0] != backendID {
		t.Errorf("response X-Request-Id = %q, want [%q]", clientIDs, backendID)
	}
}

func TestErrorPages(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, p *proxy.Proxy)
		wantCode int
		wantBody string
	}{{
		name:     "before the first switch",
		setup:    func(*testing.T, *proxy.Proxy) {},
		wantCode: http.StatusServiceUnavailable,
		wantBody: `The app "shop" is unavailable: the app has not started yet.`,
	}, {
		name: "unavailable",
		setup: func(t *testing.T, p *proxy.Proxy) {
			p.Switch(freeAddr(t))
			if prev := p.Unavailable("restarting after a crash"); prev == nil {
				t.Errorf("Unavailable() = nil, want the previous backend")
			}
		},
		wantCode: http.StatusServiceUnavailable,
		wantBody: `The app "shop" is unavailable: restarting after a crash.`,
	}, {
		name:     "backend gone",
		setup:    func(t *testing.T, p *proxy.Proxy) { p.Switch(freeAddr(t)) },
		wantCode: http.StatusBadGateway,
		wantBody: `The app "shop" is not answering.`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := proxy.New(proxy.Options{Name: "shop"})
			tt.setup(t, p)
			addr := startProxy(t, p)
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			res, body := get(t, req)
			if res.StatusCode != tt.wantCode {
				t.Errorf("Get() status = %d, want %d", res.StatusCode, tt.wantCode)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("Get() body = %q, want it to contain %q", body, tt.wantBody)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Get() Content-Type = %q, want text/plain", ct)
			}
			if id := res.Header.Get("X-Request-Id"); !hexID.MatchString(id) {
				t.Errorf("Get() X-Request-Id = %q, want 32 hex digits", id)
			}
		})
	}
}
