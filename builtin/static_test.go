package builtin

import (
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
