package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/fsutil"

	"github.com/paas-dev/paas/internal/testenv"
)

// On a fresh store, a build with no stack named creates the default stack
// pair once, with progress, and the next build reuses it; the app layers
// go onto the small run image, without the build toolchain.
func TestBuildCreatesDefaultStack(t *testing.T) {
	// mmdebstrap fetches the stack pair's packages.
	testenv.Require(t, testenv.Stack|testenv.Network)
	dir, err := os.MkdirTemp("", "paas-home-default-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsutil.RemoveAll(dir) })
	h := &testHome{dir: dir, user: root}
	noStack := []string{"PAAS_STACK="}
	out, code := h.paasEnv(t, noStack, "build", "--json", "-t", "fresh", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	if code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, out.stderr)
	}
	contains(t, "stderr", out.stderr, "The default stack trixie is not in the store yet")
	contains(t, "stderr", out.stderr, "I: downloading packages with apt")
	contains(t, "stderr", out.stderr, "Stack trixie/run")
	contains(t, "report", out.stdout, `"run_image": "trixie/run"`)

	out, code = h.paasEnv(t, noStack, "build", "-t", "fresh", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	if code != 0 || strings.Contains(out.stderr, "not in the store yet") {
		t.Fatalf("second build: exit %d, created the stack again?\n%s", code, out.stderr)
	}
	list, _ := h.paas(t, "stack", "ls")
	for _, want := range []string{"trixie:latest", "trixie/run:latest"} {
		contains(t, "stack ls", list.stdout, want)
	}
	testBuiltinApps(t, h, noStack)

	noToolchain(t, h, "zero-go-toolchain:latest")
}

// noToolchain fails if any layer of the image holds the Go toolchain: it
// belongs to the build image, never to what ships.
func noToolchain(t *testing.T, h *testHome, image string) {
	t.Helper()
	ls, err := storedImage(t, h, image).Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		for name := range layerEntries(t, l) {
			if strings.HasPrefix(name, "usr/lib/go") || name == "usr/bin/go" {
				t.Fatalf("%s holds the Go toolchain (%s)", image, name)
			}
		}
	}
}

// testBuiltinApps builds each builtin fixture app with no buildpack named,
// on the default stack, with dependencies from the real registries, and
// gets its answer over HTTP through paas run on both runtimes.
func testBuiltinApps(t *testing.T, h *testHome, env []string) {
	// go-toolchain asks for a newer Go than the stack's and has a
	// dependency from the Go module proxy; express has no lock file.
	for _, app := range []string{"go-toolchain", "nodejs", "express", "python", "static", "procfile"} {
		want := "hello from " + strings.TrimSuffix(app, "-toolchain")
		t.Run(app, func(t *testing.T) {
			out, code := h.paasEnv(t, env, "build", "--json", "-t", "zero-"+app, testFixtureApp(app))
			if code != 0 {
				t.Fatalf("build: exit %d\n%s", code, out.stderr)
			}
			var r builder.Report
			if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
				t.Fatal(err)
			}
			var size int64
			for _, l := range r.Layers {
				size += l.Size
			}
			t.Logf("%s: %s, %d layers, %.1f MB compressed, buildpack %s", app, r.Digest, len(r.Layers), float64(size)/1e6, r.Buildpacks[0].Name)
			for _, rt := range []string{"containerd", "sandbox"} {
				s := startRun(t, h, append(runtimeArgs(t, rt), "--check", "/", "zero-"+app)...)
				code, _, body := get(t, s.url+"/", nil)
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("%s: GET / = %d %q, want %q", rt, code, body, want)
				}
				s.stop()
			}
		})
	}
}
