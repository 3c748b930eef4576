package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/proxy"
)

// serveTLS serves p on a loopback port until the test ends and returns
// the port's address.
func serveTLS(t *testing.T, p *proxy.Proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
	})
	return l.Addr().String()
}

// With a certificate, the proxy serves HTTPS (HTTP/2 when the client
// offers it) and tells the app so; plain HTTP on the port is redirected or
// refused; Reload serves a renewed certificate to new connections.
func TestTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.IssueFiles(t, 10, certFile, keyFile)
	cert, err := proxy.LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-Proto"))
	}))
	newProxy := func(redirect bool) string {
		p := proxy.New(proxy.Options{TLS: &proxy.TLS{Certificate: cert, RedirectHTTP: redirect}})
		p.Switch(backend)
		return serveTLS(t, p)
	}
	addr := newProxy(true)
	client := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: h2}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, h2 := range []bool{true, false} {
		res, err := client(h2).Get("https://" + addr + "/x")
		if err != nil {
			t.Fatalf("GET over TLS: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := map[bool]int{true: 2, false: 1}[h2]; res.ProtoMajor != want || string(body) != "https" {
			t.Errorf("HTTP/2 offered %v: %s, X-Forwarded-Proto %q; want HTTP/%d and https", h2, res.Proto, body, want)
		}
		if serial := res.TLS.PeerCertificates[0].SerialNumber.Int64(); serial != 10 {
			t.Errorf("certificate serial %d, want 10", serial)
		}
	}

	res, err := client(false).Get("http://" + addr + "/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusPermanentRedirect || loc != "https://"+addr+"/path?q=1" {
		t.Errorf("plain HTTP with RedirectHTTP: %d to %q, want 308 to https://%s/path?q=1", res.StatusCode, loc, addr)
	}
	res, err = client(false).Get("http://" + newProxy(false) + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "speaks HTTPS") {
		t.Errorf("plain HTTP without RedirectHTTP: %d %q, want 400 saying the port speaks HTTPS", res.StatusCode, body)
	}

	ca.IssueFiles(t, 11, certFile, keyFile)
	if err := cert.Reload(); err != nil {
		t.Fatal(err)
	}
	res, err = client(true).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if serial := res.TLS.PeerCertificates[0].SerialNumber.Int64(); serial != 11 {
		t.Errorf("after Reload the certificate's serial is %d, want 11", serial)
	}

	// Files that do not hold a pair leave the certificate served as it was.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cert.Reload(); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("Reload() of a broken file = %v, want an error naming it", err)
	}
	res, err = client(false).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if serial := res.TLS.PeerCertificates[0].SerialNumber.Int64(); serial != 11 {
		t.Errorf("after a failed Reload the certificate's serial is %d, want 11", serial)
	}
}
