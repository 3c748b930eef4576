package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// These builds run the buildpacks on the host (NoSandbox) on a stack of
// random layers, which needs neither root nor a real stack.

// testHome returns a home whose store holds a stack named "test".
func testHome(t *testing.T) *home.Home {
	t.Helper()
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stack, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	if stack, err = mutate.Config(stack, v1.Config{Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store().Put(context.Background(), oci.KindStack, "test", stack); err != nil {
		t.Fatal(err)
	}
	return h
}

// fixtureApp copies the fixture app name into a new directory.
func fixtureApp(t *testing.T, name string) string {
	t.Helper()
	src, dst := testenv.Fixture("apps", name), filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// depsBuild builds app with the deps buildpack (node_modules and a
// declared .runtime) as the image "deps".
func depsBuild(t *testing.T, h *home.Home, app string, noCache bool) *builder.Report {
	t.Helper()
	r, err := builder.Build(context.Background(), h, builder.Options{
		AppDir: app, Tag: "deps", Stack: "test", NoSandbox: true, NoCache: noCache,
		Buildpacks: []string{testenv.Fixture("buildpacks", "deps")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// reused lists, per layer, whether the build took it from the last one.
func reused(r *builder.Report) []bool {
	var out []bool
	for _, l := range r.Layers {
		out = append(out, l.Reused)
	}
	return out
}

// A rebuild reuses the layers of the last build whose content did not
// change, and the image is the same whether layers were reused or not:
// unchanged, nothing is compressed; with --no-cache everything is; after an
// edit only the app layer is; and a record naming blobs the store lost is
// harmless.
func TestBuildReusesLayers(t *testing.T) {
	h := testHome(t)
	app := fixtureApp(t, "deps")
	first := depsBuild(t, h, app, false)
	holds := []string{"stack test", "stack test", "launcher (/paas/launcher)", "process types (/paas/processes)",
		"dependencies (/app/.runtime)", "dependencies (/app/node_modules)", "app (/app)"}
	var got []string
	for _, l := range first.Layers {
		got = append(got, l.Holds)
	}
	if !slices.Equal(got, holds) {
		t.Fatalf("layers hold %q, want %q", got, holds)
	}
	none := make([]bool, len(holds))
	all := []bool{false, false, true, true, true, true, true}
	if !slices.Equal(reused(first), none) {
		t.Errorf("first build reused %v, want nothing", reused(first))
	}

	again := depsBuild(t, h, app, false)
	if again.Digest != first.Digest || !slices.Equal(reused(again), all) {
		t.Errorf("unchanged rebuild: %s reusing %v; want %s reusing every layer of paas's", again.Digest, reused(again), first.Digest)
	}
	fresh := depsBuild(t, h, app, true)
	if fresh.Digest != first.Digest || !slices.Equal(reused(fresh), none) {
		t.Errorf("--no-cache rebuild: %s reusing %v; want %s reusing nothing", fresh.Digest, reused(fresh), first.Digest)
	}

	if err := os.WriteFile(filepath.Join(app, "server.js"), []byte("// edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := depsBuild(t, h, app, false)
	if want := []bool{false, false, true, true, true, true, false}; !slices.Equal(reused(edited), want) {
		t.Errorf("after an edit the build reused %v, want %v", reused(edited), want)
	}
	for i, l := range edited.Layers {
		if changed := l.Digest != first.Layers[i].Digest; changed != (l.Holds == "app (/app)") {
			t.Errorf("after an edit, layer %s is %s, was %s", l.Holds, l.Digest, first.Layers[i].Digest)
		}
	}

	// paas rm deletes the blobs the record names: they are made again.
	if err := h.Store().Remove(oci.KindImage, "deps"); err != nil {
		t.Fatal(err)
	}
	lost := depsBuild(t, h, app, false)
	if lost.Digest != edited.Digest || !slices.Equal(reused(lost), none) {
		t.Errorf("after paas rm: %s reusing %v; want %s reusing nothing", lost.Digest, reused(lost), edited.Digest)
	}
	img, _, err := h.Store().Image(oci.KindImage, "deps")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.Layers(); err != nil {
		t.Fatal(err)
	}

	// A record that cannot be read is no record.
	if err := os.WriteFile(h.LayerCache(oci.Repository("deps:latest")), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := depsBuild(t, h, app, false); r.Digest != edited.Digest || !slices.Equal(reused(r), none) {
		t.Errorf("with a damaged record: %s reusing %v; want %s reusing nothing", r.Digest, reused(r), edited.Digest)
	}

	// Another edit compresses only the blocks it touched, taking the
	// others from the last app layer's blob: the bytes are the same as
	// compressing it all.
	if err := os.WriteFile(filepath.Join(app, "server.js"), []byte("// edited again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reusing := depsBuild(t, h, app, false)
	if whole := depsBuild(t, h, app, true); whole.Digest != reusing.Digest {
		t.Errorf("an edit built with the last build's blocks gives %s, without %s", reusing.Digest, whole.Digest)
	}
}
