package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

// helperEnv makes the test binary act as a helper process (see runHelper)
// instead of running tests: rootless and kill tests need a second process.
const helperEnv = "ROOTFS_TEST_HELPER"

// sharedDir holds what several tests reuse, such as the test stack's layer.
var sharedDir string

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[len(os.Args)-2:]))
	}
	var err error
	sharedDir, err = os.MkdirTemp("", "rootfs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	sandbox.RemoveAll(sharedDir)
	os.Exit(code)
}

// newCache opens a cache in a new temporary directory, removed after the
// test with sandbox.RemoveAll: trees may have read-only directories and
// files of subordinate ids, which the testing package's cleanup cannot
// remove unless the caller is root. Unpacking needs the sandbox, so the
// test is skipped where it is unavailable.
func newCache(t *testing.T) *Cache {
	t.Helper()
	if err := sandbox.Available(); err != nil {
		t.Skipf("sandbox unavailable: %v", err)
	}
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := sandbox.RemoveAll(dir); err != nil {
			t.Errorf("RemoveAll(%s) = %v", dir, err)
		}
	})
	c, err := Open(dir)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return c
}

// testStackImage returns the test stack (a Debian bookworm minbase) as a
// one-layer image, made once per test binary by ggcr rather than by paas's
// stacks package (which depends on this one through home).
func testStackImage(t *testing.T) v1.Image {
	t.Helper()
	return testenv.StackImage(t, func(p string) (v1.Image, error) {
		l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, err
		}
		return mutate.AppendLayers(empty.Image, l)
	})
}

// layerOf makes a gzip layer of entries with ggcr, an implementation
// independent of paas's.
func layerOf(t testing.TB, entries ...testenv.TarEntry) v1.Layer {
	t.Helper()
	b := testenv.Tar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("LayerFromOpener() error: %v", err)
	}
	return l
}

// imageOf stacks the given layers into an OCI image.
func imageOf(t testing.TB, ls ...v1.Layer) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err := mutate.ConfigFile(base, &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, ls...)
	if err != nil {
		t.Fatalf("AppendLayers() error: %v", err)
	}
	return img
}

// imageOfEntries makes an image of one layer per list of entries.
func imageOfEntries(t *testing.T, layers ...[]testenv.TarEntry) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, entries := range layers {
		ls = append(ls, layerOf(t, entries...))
	}
	return imageOf(t, ls...)
}

// countingImage counts how often its layers are opened for unpacking.
type countingImage struct {
	v1.Image
	opens *atomic.Int32
}

func (c countingImage) Layers() ([]v1.Layer, error) {
	ls, err := c.Image.Layers()
	for i, l := range ls {
		ls[i] = countingLayer{Layer: l, opens: c.opens}
	}
	return ls, err
}

type countingLayer struct {
	v1.Layer
	opens *atomic.Int32
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.opens.Add(1)
	return l.Layer.Uncompressed()
}

// brokenImage replaces the uncompressed stream of its layers.
type brokenImage struct {
	v1.Image
	open func(v1.Layer) (io.ReadCloser, error)
}

func (b brokenImage) Layers() ([]v1.Layer, error) {
	ls, err := b.Image.Layers()
	for i, l := range ls {
		ls[i] = brokenLayer{Layer: l, open: b.open}
	}
	return ls, err
}

type brokenLayer struct {
	v1.Layer
	open func(v1.Layer) (io.ReadCloser, error)
}

func (l brokenLayer) Uncompressed() (io.ReadCloser, error) { return l.open(l.Layer) }

// runHelper runs one helper mode with args (cache dir, OCI layout) and
// returns the exit code:
//   - get: Get the layout's image and print the directory;
//   - remove: Remove the layout's image's trees;
//   - stall: like get, but the layer stream stops after its first bytes
//     and the helper prints "stalled" and waits to be killed.
func runHelper(mode string, args []string) int {
	if err := helper(mode, args[0], args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func helper(mode, dir, src string) error {
	img, err := readLayout(src)
	if err != nil {
		return err
	}
	c, err := Open(dir)
	if err != nil {
		return err
	}
	switch mode {
	case "remove":
		return c.Remove(img)
	case "stall":
		img = brokenImage{Image: img, open: stallAfter(512 * 3)}
	}
	root, err := c.Get(context.Background(), img)
	if err != nil {
		return err
	}
	fmt.Println(root)
	return nil
}

// readLayout returns the only image of the OCI layout dir.
func readLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("layout %s holds %d images, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// stallAfter returns layer streams that deliver n bytes, then announce
// "stalled" on stdout and block forever.
func stallAfter(n int64) func(v1.Layer) (io.ReadCloser, error) {
	return func(l v1.Layer) (io.ReadCloser, error) {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(io.MultiReader(io.LimitReader(rc, n), stallReader{})), nil
	}
}

type stallReader struct{}

func (stallReader) Read([]byte) (int, error) {
	fmt.Println("stalled")
	time.Sleep(time.Hour) // until killed; a select{} would end as a deadlock
	return 0, io.ErrUnexpectedEOF
}
