package builtin

import (
	"strings"
	"sync"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

var importBare sync.Once

// On a stack without Go (the bare test stack), the Go and static buildpacks
// fail with a message that says which stack to use.
func TestMissingToolchain(t *testing.T) {
	store(t)
	importBare.Do(func() {
		if _, out, code := paas(t, "stack", "import", "test", testenv.StackTar(t)); code != 0 {
			t.Fatalf("paas stack import test: exit %d\n%s", code, out)
		}
	})
	tests := []struct {
		name, app, want string
	}{
		{"go", "go", "this stack has no Go toolchain; use a stack with golang-go"},
		{"static", "static", "this stack has no Go toolchain to compile the static file server; use a stack with golang-go"},
		{"nodejs", "nodejs", "this stack has no Node.js; use a stack with nodejs and npm"},
		{"python", "python", "this stack has no Python; use a stack with python3 and python3-venv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out, code := paas(t, "build", "--stack", "test", "-t", "builtin-bare-"+tt.name, testenv.Fixture("apps", tt.app))
			if code != 12 {
				t.Fatalf("paas build = exit %d, want 12\n%s", code, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("paas build output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
