package builtin

import (
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// The Node.js app installs its dependencies from the npm registry with
// npm ci, runs its build script, prunes its dev dependency and serves with
// its start script, run without npm.
func TestNodejsApp(t *testing.T) {
	r, out := build(t, "builtin-nodejs", testenv.Fixture("apps", "nodejs"))
	detected(t, r, "Node.js")
	if got := r.Processes["web"]; got != "node server.js" {
		t.Errorf("web process = %q, want the start script, node server.js", got)
	}
	for _, want := range []string{"-----> Installing dependencies", "-----> Running the build script", "-----> Pruning dev dependencies"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	files := appFiles(t, r)
	for _, want := range []string{"app/node_modules/escape-html/index.js", "app/greeting.txt", "app/.profile.d/nodejs.sh"} {
		if !contains(files, want) {
			t.Errorf("the app layers lack %s", want)
		}
	}
	for _, f := range files {
		if strings.HasPrefix(f, "app/node_modules/is-number") {
			t.Errorf("the app layers hold the dev dependency: %s", f)
			break
		}
	}
	if body := serve(t, r.Name); body != "hello from nodejs\n" {
		t.Errorf("GET / = %q, want %q", body, "hello from nodejs\n")
	}
}
