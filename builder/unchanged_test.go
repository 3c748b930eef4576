package builder_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
)

// A rebuild whose inputs are those of the last build runs no buildpack and
// compresses nothing: it gives the last image, still writing the outputs.
// Any change of the source, a buildpack or a config var, --no-cache, or a
// tag moved since, builds again.
func TestUnchangedRebuild(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	ctx := context.Background()
	dir := t.TempDir()
	// Unpacked stacks hold files of the sandbox's ids, which only
	// sandbox.RemoveAll removes when not root.
	t.Cleanup(func() { _ = sandbox.RemoveAll(dir) })
	h, err := home.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stacks.ImportInto(ctx, h, "test", testenv.StackTar(t), console.New(&bytes.Buffer{}, true)); err != nil {
		t.Fatal(err)
	}
	app, bp := fixtureApp(t, "deps"), filepath.Join(t.TempDir(), "deps")
	if err := os.CopyFS(bp, os.DirFS(testenv.Fixture("buildpacks", "deps"))); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	build := func(env map[string]string, noCache bool) *builder.Report {
		t.Helper()
		var log bytes.Buffer
		r, err := builder.Build(ctx, h, builder.Options{
			AppDir: app, Tag: "deps", Stack: "test", Buildpacks: []string{bp}, Env: env, NoCache: noCache,
			Outputs: []string{"oci:" + out}, Console: console.New(&log, false),
		})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log.String())
		}
		ran := strings.Contains(log.String(), "Installing dependencies")
		if ran == r.Unchanged {
			t.Errorf("unchanged %v, but the buildpack ran: %v\n%s", r.Unchanged, ran, log.String())
		}
		return r
	}
	expect := func(what string, r *builder.Report, unchanged bool) {
		t.Helper()
		if r.Unchanged != unchanged {
			t.Errorf("%s: unchanged = %v, want %v", what, r.Unchanged, unchanged)
		}
	}

	first := build(nil, false)
	expect("first build", first, false)
	again := build(nil, false)
	expect("same inputs", again, true)
	if again.Digest != first.Digest || len(again.Layers) != len(first.Layers) {
		t.Fatalf("unchanged rebuild gave %s with %d layers, want %s with %d", again.Digest, len(again.Layers), first.Digest, len(first.Layers))
	}
	for i, l := range again.Layers {
		if l.Digest != first.Layers[i].Digest || l.Reused != (l.Holds != "stack test") {
			t.Errorf("layer %d of the unchanged rebuild: %+v, first build's %+v", i, l, first.Layers[i])
		}
	}
	img, err := oci.Load("oci:" + out + ":deps:latest")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != first.Digest {
		t.Errorf("the unchanged rebuild wrote %s to its output, want %s", d, first.Digest)
	}

	// Each change builds again; the same inputs after it do not.
	changes := []struct {
		what   string
		change func()
		env    map[string]string
	}{
		{"a source file", func() { writeFile(t, filepath.Join(app, "server.js"), "// edited\n") }, nil},
		{"a new file", func() { writeFile(t, filepath.Join(app, "lib", "x.js"), "x\n") }, nil},
		{"a config var", func() {}, map[string]string{"NODE_ENV": "production"}},
		{"the buildpack", func() { writeFile(t, filepath.Join(bp, "bin", "detect"), "#!/bin/sh\necho deps\n") }, map[string]string{"NODE_ENV": "production"}},
		{"the tag", func() {
			if err := h.Store().Remove(oci.KindImage, "deps"); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"NODE_ENV": "production"}},
	}
	for _, c := range changes {
		c.change()
		expect("after a change of "+c.what, build(c.env, false), false)
		expect("unchanged after a change of "+c.what, build(c.env, false), true)
	}
	expect("--no-cache", build(nil, true), false)
	expect("after --no-cache", build(nil, false), false)
	expect("unchanged after --no-cache", build(nil, false), true)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}
