package builtin

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// The static site is served by paas-static, compiled at build time.
func TestStaticApp(t *testing.T) {
	r, out := build(t, "builtin-static", testenv.Fixture("apps", "static"))
	detected(t, r, "Static")
	if got := r.Processes["web"]; got != "paas-static" {
		t.Errorf("web process = %q, want paas-static", got)
	}
	if !strings.Contains(out, "-----> Compiling the static file server") {
		t.Errorf("build output:\n%s", out)
	}
	if body := serve(t, r.Name); !strings.Contains(body, "hello from static") {
		t.Errorf("GET / = %q, want the index.html", body)
	}
}

// paas-static refuses dot files, also through symbolic links, links out
// of its document root and directory listings, and it listens on loopback
// only, where paas's proxy reaches it (see the fixture's README).
func TestStaticServerHoldsAgainstHostilePaths(t *testing.T) {
	r, _ := build(t, "builtin-static-hostile", testenv.Fixture("apps", "static-hostile"))
	url, out := running(t, r.Name)
	if code, body := httpGet(t, url+"/"); code != 200 || !strings.Contains(body, "hello from static-hostile") {
		t.Fatalf("GET / = %d %q, want the index.html\n%s", code, body, out.String())
	}
	for _, p := range []string{"/leak", "/dotlink", "/cfg/key", "/escape", "/.hidden", "/empty/"} {
		if code, body := httpGet(t, url+p); code != http.StatusNotFound || strings.Contains(body, "CANARY") || strings.Contains(body, "root:") {
			t.Errorf("GET %s = %d %q, want 404", p, code, body)
		}
	}
	appPort := regexp.MustCompile(`\(PORT=([0-9]+)\)`).FindStringSubmatch(out.String())
	if appPort == nil {
		t.Fatalf("paas run did not say the app's PORT:\n%s", out.String())
	}
	ip := nonLoopbackIP(t)
	if ip == "" {
		t.Log("this host has no address but loopback: the loopback-only listen is not checked")
		return
	}
	if c, err := net.Dial("tcp", net.JoinHostPort(ip, appPort[1])); err == nil {
		c.Close()
		t.Errorf("paas-static answers on %s:%s, want loopback only", ip, appPort[1])
	}
}

// nonLoopbackIP returns an address of this host that is not loopback, ""
// if it has none.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
