package builtin

import (
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// A Procfile-only app builds with nothing compiled and runs its web type.
func TestProcfileApp(t *testing.T) {
	r, out := build(t, "builtin-procfile", testenv.Fixture("apps", "procfile"))
	detected(t, r, "Procfile")
	if !strings.Contains(out, "-----> Using the Procfile; nothing to compile") {
		t.Errorf("build output:\n%s", out)
	}
	if body := serve(t, r.Name); body != "hello from procfile\n" {
		t.Errorf("GET / = %q, want %q", body, "hello from procfile\n")
	}
}
