package buildpack

import (
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// cnbImage is an image of one CNB buildpack at cnb/buildpacks/ID/VERSION.
func cnbImage(t *testing.T, id, version string) v1.Image {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bp")
	writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \""+id+"\"\nversion = \""+version+"\"\n", 0o644)
	writeFile(t, filepath.Join(dir, "bin", "detect"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "build"), "#!/bin/sh\n", 0o755)
	l, err := layers.FromDir(dir, layers.WithTempDir(t.TempDir()), layers.WithPrefix("cnb/buildpacks/"+EscapeID(id)+"/"+version))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A buildpack image is fetched from an OCI layout and from a registry:
// its layers are unpacked and its buildpack found, the digest pins it, and
// the cache entry is reused while the image is the same.
func TestFetchImage(t *testing.T) {
	img := cnbImage(t, "acme/tool", "1.2.3")
	digest, _ := img.Digest()
	layout := filepath.Join(t.TempDir(), "layout")
	if err := oci.Write(t.Context(), img, "oci:"+layout, "tool"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/acme/tool:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	opts := Options{CacheDir: t.TempDir()}
	for _, ref := range []string{"oci:" + layout, RegistryPrefix + ref} {
		bp := mustFetch(t, ref, opts)
		if bp.CNB == nil || bp.CNB.Buildpack.ID != "acme/tool" || bp.Resolved != digest.String() ||
			!strings.HasSuffix(bp.Dir, filepath.Join("cnb", "buildpacks", "acme_tool", "1.2.3")) {
			t.Errorf("Fetch(%s) = %+v, want acme/tool at its cnb/buildpacks path, pinned to %s", ref, bp, digest)
		}
		again := mustFetch(t, ref, opts)
		if again.Dir != bp.Dir {
			t.Errorf("second Fetch(%s) in %s, want the cached %s", ref, again.Dir, bp.Dir)
		}
	}
}

// An image that holds no buildpack is refused.
func TestFetchImageNotBuildpack(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "layout")
	if err := oci.Write(t.Context(), empty.Image, "oci:"+layout, "empty"); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(t.Context(), "oci:"+layout, Options{CacheDir: t.TempDir()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a buildpack image") {
		t.Errorf("Fetch(an empty image) = %v, want %v saying so", err, ErrInvalid)
	}
	if entries, _ := os.ReadDir(layout); len(entries) == 0 {
		t.Error("the layout is gone")
	}
}
