package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/internal/testenv"
)

// paas run --tls-cert serves HTTPS with the given certificate (HTTP/2 when
// offered), redirects plain HTTP, and serves a renewed certificate after
// --replace.
func TestRunTLS(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root)
	h := sharedHome(t, root)
	h.mustBuild(t, "-t", "tls", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	ca := testenv.NewCA(t)
	dir := userTempDir(t, root)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.IssueFiles(t, 10, cert, key)

	if out, code := h.paas(t, "run", "--tls-cert", cert, "tls"); code != exitUsage || !strings.Contains(out.stderr, "--tls-key") {
		t.Errorf("--tls-cert alone: exit %d, want %d naming --tls-key\n%s", code, exitUsage, out.stderr)
	}
	if out, code := h.paas(t, "run", "--tls-cert", key, "--tls-key", key, "tls"); code != exitUsage || !strings.Contains(out.stderr, key) {
		t.Errorf("a key as the certificate: exit %d, want %d naming the file\n%s", code, exitUsage, out.stderr)
	}

	s := startRun(t, h, "--runtime", "sandbox", "--check", "/", "--tls-cert", cert, "--tls-key", key, "--redirect-http", "tls")
	contains(t, "log", s.log(), "on https://")
	secure := "https" + strings.TrimPrefix(s.url, "http")
	client := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: h2}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	fetch := func(c *http.Client, url string) (*http.Response, string) {
		t.Helper()
		res, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	res, body := fetch(client(true), secure+"/hello")
	if res.StatusCode != 200 || res.ProtoMajor != 2 || !strings.Contains(body, "x-forwarded-proto=https") {
		t.Errorf("GET over HTTPS: %s %s %q, want 200 over HTTP/2 with x-forwarded-proto=https", res.Status, res.Proto, body)
	}
	if serial := res.TLS.PeerCertificates[0].SerialNumber.Int64(); serial != 10 {
		t.Errorf("served certificate %d, want 10", serial)
	}
	res, _ = fetch(client(false), s.url+"/hello?x=1")
	if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != secure+"/hello?x=1" {
		t.Errorf("plain HTTP: %s to %q, want 308 to %s/hello?x=1", res.Status, res.Header.Get("Location"), secure)
	}

	ca.IssueFiles(t, 11, cert, key)
	if out, code := h.paas(t, "run", "--replace", "tls"); code != 0 {
		t.Fatalf("paas run --replace: %d\n%s", code, out.stderr)
	}
	s.waitFor("Reloaded the TLS certificate", 60*time.Second)
	res, _ = fetch(client(false), secure+"/")
	if serial := res.TLS.PeerCertificates[0].SerialNumber.Int64(); serial != 11 {
		t.Errorf("after --replace the certificate is %d, want the renewed 11", serial)
	}
}
