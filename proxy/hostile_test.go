package proxy_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
)

// The tests in this file attack the proxy as a hostile client would, over
// real loopback connections, with raw bytes where net/http's client would
// tidy the attack away.

// forged marks every value a hostile client sends; none may reach the app.
const forged = "203.0.113.66"

// spoofHeaders are header lines claiming a client address or scheme, in
// the spellings (case, underscores, repeats) a client can choose.
var spoofHeaders = []string{
	"X-Real-IP: " + forged,
	"x-real-ip: " + forged,
	"X_Real_IP: " + forged,
	"True-Client-IP: " + forged,
	"X-Forwarded-For: " + forged,
	"X-Forwarded-For: " + forged + ", 10.0.0.1",
	"X_Forwarded_For: " + forged,
	"X-Forwarded-Proto: https " + forged,
	"X-Forwarded-Host: " + forged,
	"X-Forwarded-Port: 443" + forged,
	"X-Forwarded-Ssl: on " + forged,
	"X-Forwarded-Scheme: https " + forged,
	"X-Forwarded-Server: " + forged,
	"X-Forwarded-Prefix: /" + forged,
	"X-Forwarded-Client-Cert: " + forged,
	"X-Forwarded: for=" + forged,
	"Forwarded: for=" + forged + ";proto=https",
	"Forwarded-For: " + forged,
	"X-Client-IP: " + forged,
	"Client-IP: " + forged,
	"X-Cluster-Client-IP: " + forged,
	"CF-Connecting-IP: " + forged,
	"Fastly-Client-IP: " + forged,
	"X-Original-Forwarded-For: " + forged,
	"X-Originating-IP: " + forged,
	"X-Remote-IP: " + forged,
	"X-Remote-Addr: " + forged,
	"X-Request-Start: t=1 " + forged,
}

// rawExchange sends req, raw bytes, on a new connection to addr and
// returns the response with its body.
func rawExchange(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("sending request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return res, string(body)
}

func TestSpoofedForwardingHeadersNeverReachTheApp(t *testing.T) {
	tests := []struct {
		name       string
		connection string // the client's Connection header
	}{
		{name: "plain", connection: "keep-alive"},
		{name: "connection names the headers paas sets",
			connection: "X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port, X-Request-Id, X-Request-Start"},
	}
	backend := startBackend(t, http.HandlerFunc(echoHeaders))
	p := proxy.New(proxy.Options{})
	p.Switch(backend)
	addr := startProxy(t, p)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := "GET /who HTTP/1.1\r\nHost: shop.example.com\r\nConnection: " + tt.connection + "\r\n" +
				strings.Join(spoofHeaders, "\r\n") + "\r\n\r\n"
			res, body := rawExchange(t, addr, req)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %q", res.StatusCode, body)
			}
			var got seen
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("backend body %q: %v", body, err)
			}
			for k, vs := range got.Header {
				if strings.Contains(strings.Join(vs, ","), forged) {
					t.Errorf("backend got %s: %q, want no client-forged value", k, vs)
				}
			}
			checkForwarded(t, got, addr, "127.0.0.1", "http", "shop.example.com")
			for _, k := range []string{"X-Real-Ip", "X-Forwarded-For", "X-Request-Id", "X-Request-Start"} {
				if n := len(got.Header.Values(k)); n != 1 {
					t.Errorf("backend got %d %s headers, want exactly paas's one", n, k)
				}
			}
			if v := got.Header.Get("X-Real-Ip"); v != "127.0.0.1" {
				t.Errorf("backend X-Real-Ip = %q, want 127.0.0.1", v)
			}
		})
	}
}

func TestOrdinaryHeadersStillReachTheApp(t *testing.T) {
	backend := startBackend(t, http.HandlerFunc(echoHeaders))
	p := proxy.New(proxy.Options{})
	p.Switch(backend)
	addr := startProxy(t, p)
	req := "GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-For: " + forged +
		"\r\nAuthorization: Bearer abc\r\nX-Custom-Thing: 1\r\nVia: 1.1 corporate-proxy\r\n\r\n"
	_, body := rawExchange(t, addr, req)
	var got seen
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("backend body %q: %v", body, err)
	}
	for k, want := range map[string]string{"Authorization": "Bearer abc", "X-Custom-Thing": "1", "Via": "1.1 corporate-proxy"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("backend %s = %q, want %q passed through", k, v, want)
		}
	}
}

// short is the timeout the attack tests configure, so an attack is cut
// off quickly; the tests wait up to guard for it, never time it.
const short = 100 * time.Millisecond

// dialRaw opens a connection to addr that the test closes at its end.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trickle writes first, then one piece of each every interval until a
// write fails or the test ends, as a slow attacker would.
func trickle(t *testing.T, c net.Conn, first, each string, interval time.Duration) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		if _, err := io.WriteString(c, first); err != nil {
			return
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			if _, err := io.WriteString(c, each); err != nil {
				return
			}
		}
	}()
}

// waitCutOff reads c until the proxy closes it and returns what it read;
// it fails the test if the connection is still open after guard.
func waitCutOff(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(guard))
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %s, want it cut off; read %q", guard, got)
	}
	return string(got)
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	tests := []struct {
		name        string
		first, each string
	}{
		{name: "silent connection"},
		{name: "headers byte by byte", first: "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", each: "a"},
		{name: "a header line at a time", first: "GET / HTTP/1.1\r\nHost: x\r\n", each: "X-Slow: a\r\n"},
	}
	p := proxy.New(proxy.Options{ReadHeaderTimeout: short})
	p.Switch(startBackend(t, http.HandlerFunc(hello)))
	addr := startProxy(t, p)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if tt.each != "" {
				trickle(t, c, tt.first, tt.each, short/10)
			}
			if got := waitCutOff(t, c); strings.HasPrefix(got, "HTTP/1.1 200") {
				t.Errorf("slow headers answered %q, want the connection closed", got)
			}
		})
	}
}

// readAll is a backend that reads the whole body, then answers its size.
func readAll(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d", n)
}

func TestTrickledBodyIsCutOff(t *testing.T) {
	const length = 100000
	post := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", length)
	chunked := "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name        string
		first, each string
		interval    time.Duration
	}{
		// A byte per short/10 is 100 bytes/s, a tenth of the minimum.
		{name: "below the minimum rate", first: post, each: "x", interval: short / 10},
		{name: "chunked below the minimum rate", first: chunked, each: "1\r\nx\r\n", interval: short / 10},
		{name: "stalls after a start", first: post + strings.Repeat("x", 5000), interval: guard},
	}
	p := proxy.New(proxy.Options{BodyTimeout: 3 * short, MinBodyRate: 1000})
	p.Switch(startBackend(t, http.HandlerFunc(readAll)))
	addr := startProxy(t, p)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			trickle(t, c, tt.first, tt.each, tt.interval)
			got := waitCutOff(t, c)
			if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.Contains(got, "came too slowly") {
				t.Errorf("trickled body answered %q, want 408 and the connection closed", got)
			}
		})
	}
}

// A body larger than the socket buffers between proxy and app makes the
// proxy wait for a busy app; that wait is not the client's and must not
// count against the body's timeout or rate.
func TestBusyAppDoesNotCutOffTheUpload(t *testing.T) {
	const size = 32 << 20
	appWaits := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * short)
		readAll(w, r)
	}))
	// The rate earns next to nothing, so only the client's own waits count.
	// The app waits three times the timeout; the timeout itself leaves the
	// client room for a loaded machine's scheduling gaps.
	p := proxy.New(proxy.Options{BodyTimeout: 10 * short, MinBodyRate: 1 << 30})
	p.Switch(appWaits)
	addr := startProxy(t, p)
	res, err := http.Post("http://"+addr+"/upload", "application/octet-stream", strings.NewReader(strings.Repeat("x", size)))
	if err != nil {
		t.Fatalf("Post() = %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != fmt.Sprint(size) {
		t.Errorf("Post() to a busy app = %d %q, want 200 %q", res.StatusCode, body, fmt.Sprint(size))
	}
}

func TestClientThatStopsReadingIsCutOff(t *testing.T) {
	aborted := make(chan error, 1)
	huge := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 1 << 14 { // 512 MiB, more than any socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				aborted <- err
				return
			}
		}
		aborted <- nil
	}))
	p := proxy.New(proxy.Options{WriteTimeout: short})
	p.Switch(huge)
	addr := startProxy(t, p)
	c := dialRaw(t, addr)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-aborted:
		if err == nil {
			t.Fatal("the whole response was sent to a client that reads nothing")
		}
	case <-time.After(guard):
		t.Fatalf("the app still writes to a client that stopped reading after %s", guard)
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	p := proxy.New(proxy.Options{MaxHeaderBytes: 4096})
	p.Switch(startBackend(t, http.HandlerFunc(hello)))
	addr := startProxy(t, p)
	res, _ := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nCookie: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers answered %d, want 431", res.StatusCode)
	}
}

func TestConnectionLimitHolds(t *testing.T) {
	slow, slowAddr := newBlocking(t)
	p := proxy.New(proxy.Options{MaxConnections: 2})
	p.Switch(slowAddr)
	addr := startProxy(t, p)
	first, second := getAsync("http://"+addr+"/"), getAsync("http://"+addr+"/")
	<-slow.entered
	<-slow.entered
	third := getAsync("http://" + addr + "/")
	select {
	case <-slow.entered:
		t.Fatal("a third connection was served while the limit of 2 was in use")
	case r := <-third:
		t.Fatalf("a third connection was answered (%d %v) while the limit of 2 was in use", r.code, r.err)
	case <-time.After(2 * short):
	}
	slow.unblock() // the first two finish and idle: the third must get room
	for i, res := range []<-chan result{first, second, third} {
		if r := <-res; r.err != nil || r.code != http.StatusOK {
			t.Errorf("request %d = %d %v, want 200", i+1, r.code, r.err)
		}
	}
}

func TestIdleConnectionsMakeRoom(t *testing.T) {
	p := proxy.New(proxy.Options{MaxConnections: 1})
	p.Switch(startBackend(t, http.HandlerFunc(hello)))
	addr := startProxy(t, p)
	idle := &http.Client{Transport: &http.Transport{}, Timeout: guard} // keeps its connection open
	defer idle.CloseIdleConnections()
	for i, client := range []*http.Client{idle, {Transport: &http.Transport{}, Timeout: guard}} {
		res, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("client %d: Get() = %v", i+1, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("client %d: Get() = %d, want 200", i+1, res.StatusCode)
		}
	}
}
