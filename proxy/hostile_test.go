package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
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
