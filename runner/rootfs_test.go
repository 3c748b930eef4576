package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// TestRootfsCachePoisonedDiffID starts an image whose config claims the
// DiffID of another image's layer while its layer holds something else.
// The cache is keyed by the claimed DiffIDs, so without verification the
// crafted content would become the other image's rootfs.
func TestRootfsCachePoisonedDiffID(t *testing.T) {
	if err := sandbox.Available(); err != nil {
		t.Skipf("sandbox unavailable: %v", err)
	}
	victim := fileLayer(t, "victim")
	claimed, err := victim.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	poisoned := lyingLayer{Layer: fileLayer(t, "poisoned"), diffID: claimed}
	c := rootfsCache{dir: t.TempDir()}
	t.Cleanup(func() { sandbox.RemoveAll(c.dir) })
	if _, err := c.get(t.Context(), imageOfLayer(t, poisoned)); !errors.Is(err, layers.ErrDiffIDMismatch) {
		t.Fatalf("get(poisoned image) = %v, want %v", err, layers.ErrDiffIDMismatch)
	}
	if entries, _ := os.ReadDir(c.dir); len(entries) != 0 {
		t.Errorf("after a failed unpack the cache holds %v, want nothing", entries)
	}
	dir, err := c.get(t.Context(), imageOfLayer(t, victim))
	if err != nil {
		t.Fatalf("get(victim image) = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "who")); err != nil || string(b) != "victim" {
		t.Errorf("victim's rootfs holds who = %q, %v, want %q", b, err, "victim")
	}
}

// lyingLayer claims a DiffID its content does not have.
type lyingLayer struct {
	v1.Layer
	diffID v1.Hash
}

func (l lyingLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// fileLayer is a layer holding the file "who" with body.
func fileLayer(t *testing.T, body string) v1.Layer {
	t.Helper()
	l, err := layers.FromFiles([]layers.File{{Path: "who", Mode: 0o644, Body: []byte(body)}}, layers.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOfLayer(t *testing.T, l v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
