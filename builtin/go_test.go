package builtin

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// The Go app builds with the stack's go into bin/hello, the image's app
// layer holds the binary but no toolchain, the image serves, and a rebuild
// of unchanged code compiles nothing.
func TestGoApp(t *testing.T) {
	app := testenv.Fixture("apps", "go")
	r, out := build(t, "builtin-go", app)
	detected(t, r, "Go")
	if got := r.Processes["web"]; got != "hello" {
		t.Errorf("web process = %q, want %q", got, "hello")
	}
	// go build -v names each package it compiles.
	compiled := "\n       github.com/acme/hello\n"
	for _, want := range []string{"-----> Compiling", "       github.com/acme/hello -> bin/hello", compiled} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	files := layerFiles(t, appLayer(t, r).Digest)
	if !contains(files, "app/bin/hello") || !contains(files, "app/main.go") || !contains(files, "app/.profile.d/go.sh") {
		t.Errorf("app layer = %v, want app/bin/hello, the source and .profile.d/go.sh", files)
	}
	for _, f := range files {
		if !strings.HasPrefix(f, "app") || strings.Contains(f, "go/pkg/mod") || strings.HasSuffix(f, "bin/go") {
			t.Errorf("app layer holds %s: only the app belongs there, no toolchain or module cache", f)
		}
	}
	if body := serve(t, r.Name); body != "hello from go\n" {
		t.Errorf("GET / = %q, want %q", body, "hello from go\n")
	}

	gocache := filepath.Join(storeDir, "cache", "builtin-go", "go", "build")
	before := countFiles(t, gocache)
	_, out = build(t, "builtin-go", app)
	if after := countFiles(t, gocache); after != before || before == 0 {
		t.Errorf("GOCACHE held %d files before the rebuild and %d after: want the same, non-zero count", before, after)
	}
	if !strings.Contains(out, "-> bin/hello") || strings.Contains(out, compiled) {
		t.Errorf("the rebuild compiled the package again:\n%s", out)
	}
}
