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

	gocache := filepath.Join(cacheDir(t, "builtin-go"), "go", "build")
	before := countFiles(t, gocache)
	// A config var the buildpack ignores makes it run again, rather than the
	// last build being reused unchanged.
	_, out = build(t, "builtin-go", app, "-e", "REBUILD=1")
	if after := countFiles(t, gocache); after != before || before == 0 {
		t.Errorf("GOCACHE held %d files before the rebuild and %d after: want the same, non-zero count", before, after)
	}
	if !strings.Contains(out, "-> bin/hello") || strings.Contains(out, compiled) {
		t.Errorf("the rebuild compiled the package again:\n%s", out)
	}
}

// uuidV5 is the name-based UUID of https://example.com/ that the go-toolchain
// and go-vendor apps answer with (github.com/google/uuid's NewSHA1 in the URL
// namespace, as Python's uuid.uuid5 computes it too).
const uuidV5 = "dd2c1780-811a-5296-81c5-178a0ef488bc"

// A module whose go line (go 1.25) is newer than the stack's Go gets that
// release through the Go module proxy, and its dependency too, each in a step
// of its own; the rebuild takes both from the cache with the proxy off, and a
// toolchain line asks for the cached release as well.
func TestGoToolchainSwitch(t *testing.T) {
	app := testenv.Fixture("apps", "go-toolchain")
	r, out := build(t, "builtin-go-toolchain", app)
	for _, want := range []string{
		"-----> Switching to go1.25.0: go.mod asks for it; the stack has go1.19",
		"       Downloading go1.25.0 through GOPROXY=",
		"-----> Using go1.25.0 linux/",
		"-----> Downloading modules\n       go: downloading github.com/google/uuid v1.6.0\n",
		"       github.com/acme/greeter -> bin/greeter",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "-----> Finding main packages of github.com/acme/greeter\n       go: ") {
		t.Errorf("go's messages were taken for packages:\n%s", out)
	}
	for _, f := range layerFiles(t, appLayer(t, r).Digest) {
		if strings.Contains(f, "toolchain") || strings.Contains(f, "pkg/mod") {
			t.Errorf("app layer holds %s: the toolchain and modules belong in the cache", f)
		}
	}
	if body, want := serve(t, r.Name), "hello from go1.25.0 "+uuidV5+"\n"; body != want {
		t.Errorf("GET / = %q, want %q", body, want)
	}

	// With the proxy off, anything not in the cache would fail the build.
	_, out = build(t, "builtin-go-toolchain", app, "-e", "GOPROXY=off")
	for _, want := range []string{"       Using go1.25.0 from the cache", "-----> Using go1.25.0 linux/"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Downloading go") || strings.Contains(out, "go: downloading") {
		t.Errorf("the rebuild downloaded again:\n%s", out)
	}

	gomod := "module github.com/acme/greeter\n\ngo 1.21\n\ntoolchain go1.25.0\n\nrequire github.com/google/uuid v1.6.0\n"
	_, out = build(t, "builtin-go-toolchain", appWith(t, "go-toolchain", map[string]string{"go.mod": gomod}), "-e", "GOPROXY=off")
	if !strings.Contains(out, "-----> Using go1.25.0 linux/") {
		t.Errorf("the toolchain line go1.25.0 was not used:\n%s", out)
	}
}

// A module with vendor/ builds with no network: nothing is downloaded.
func TestGoVendor(t *testing.T) {
	r, out := build(t, "builtin-go-vendor", testenv.Fixture("apps", "go-vendor"), "--network", "none")
	if !strings.Contains(out, "-----> Using the modules in vendor/") || strings.Contains(out, "Downloading") {
		t.Errorf("build output:\n%s", out)
	}
	if body, want := serve(t, r.Name), "hello from vendor "+uuidV5+"\n"; body != want {
		t.Errorf("GET / = %q, want %q", body, want)
	}
}
