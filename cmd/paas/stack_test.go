package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// withMarker returns base plus a layer holding /etc/NAME.
func withMarker(t *testing.T, base v1.Image, name string) v1.Image {
	t.Helper()
	l, err := layers.FromFiles([]layers.File{
		{Path: "etc", Mode: os.ModeDir | 0o755},
		{Path: "etc/" + name, Mode: 0o644, Body: []byte(name + "\n")},
	}, layers.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// markerBuildpack lists the /etc/paas-*-marker files its compile sees.
func markerBuildpack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "detect"), []byte("#!/bin/sh\necho Markers\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "compile"), []byte("#!/bin/sh\nls /etc | grep marker > \"$1/markers.txt\"\n"), 0o755)
	return dir
}

// A stack pulled as a build and run pair: buildpacks run on the build
// image, the app is placed on the run image, and the image records both.
func TestStackPullPair(t *testing.T) {
	h := sharedHome(t, root)
	store, err := oci.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := store.Image(oci.KindStack, "test")
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	build, run := withMarker(t, base, "paas-build-marker"), withMarker(t, base, "paas-run-marker")
	ctx := context.Background()
	if err := oci.Push(ctx, build, host+"/stacks/test:build", nil); err != nil {
		t.Fatal(err)
	}
	if err := oci.Push(ctx, run, host+"/stacks/test:run", nil); err != nil {
		t.Fatal(err)
	}
	if out, code := h.paas(t, "stack", "pull", "pair", host+"/stacks/test:build", host+"/stacks/test:run"); code != 0 {
		t.Fatalf("stack pull: exit %d\n%s", code, out.stderr)
	}
	r := h.mustBuild(t, "-t", "on-pair", "--stack", "pair", "-b", markerBuildpack(t), appCopy(t, root, "hello"))
	if got := strings.TrimSpace(appFile(t, h, r.Image, "markers.txt")); got != "paas-build-marker" {
		t.Errorf("compile saw markers %q, want only the build image's", got)
	}
	runDigest, _ := run.Digest()
	if r.Stack.RunImage != "pair/run" || r.Stack.RunDigest != runDigest.String() {
		t.Errorf("report stack = %+v, want run image pair/run %s", r.Stack, runDigest)
	}
	img := storedImage(t, h, r.Image)
	want, _ := run.Layers()
	got, _ := img.Layers()
	for i := range want {
		wd, _ := want[i].Digest()
		gd, _ := got[i].Digest()
		if wd != gd {
			t.Fatalf("layer %d = %s, want the run image's %s", i, gd, wd)
		}
	}
	cf, _ := img.ConfigFile()
	contains(t, "io.paas.stack", cf.Config.Labels["io.paas.stack"], runDigest.String())

	// A single image serves as both.
	if out, code := h.paas(t, "stack", "pull", "pair", host+"/stacks/test:build"); code != 0 {
		t.Fatalf("stack pull: exit %d\n%s", code, out.stderr)
	}
	r = h.mustBuild(t, "-t", "on-single", "--stack", "pair", "-b", markerBuildpack(t), appCopy(t, root, "hello"))
	buildDigest, _ := build.Digest()
	if r.Stack.RunDigest != r.Stack.Digest || r.Stack.Digest != buildDigest.String() {
		t.Errorf("single-image stack = %+v, want build %s as run image", r.Stack, buildDigest)
	}
}

// --stack takes a stack straight from an OCI layout.
func TestBuildStackFromLayout(t *testing.T) {
	h := sharedHome(t, root)
	layout := filepath.Join(t.TempDir(), "stacks")
	out, code := h.paas(t, "inspect", "--json", "hello-nonexistent")
	if code != exitNotFound {
		t.Fatalf("inspect of a missing image: exit %d\n%s", code, out.stderr)
	}
	r := h.mustBuild(t, "-t", "from-store", "-b", buildpackDir("hello"), "-o", "oci:"+layout, appCopy(t, root, "hello"))
	// The image just written is a valid stack too: build on top of it.
	r2 := h.mustBuild(t, "-t", "from-layout", "--stack", "oci:"+layout+":from-store:latest", "-b", buildpackDir("cache-env"), appCopy(t, root, "hello"))
	if r2.Stack.Digest == r.Stack.Digest {
		t.Errorf("stack digest = the store stack's; want the layout image's")
	}
}
