package rootfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// TestChainID checks ChainID against the image spec's own implementation.
func TestChainID(t *testing.T) {
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	for _, diffIDs := range [][]digest.Digest{{a}, {a, b}, {a, b, c}, {c, b, a}} {
		var hashes []v1.Hash
		for _, d := range diffIDs {
			hashes = append(hashes, v1.Hash{Algorithm: "sha256", Hex: d.Encoded()})
		}
		if got, want := ChainID(hashes).String(), identity.ChainID(diffIDs).String(); got != want {
			t.Errorf("ChainID(%v) = %s, want %s", diffIDs, got, want)
		}
	}
}

func TestGetStack(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	img := testStackImage(t)
	c := newCache(t)
	var opens atomic.Int32
	counted := countingImage{Image: img, opens: &opens}
	root, err := c.Get(context.Background(), counted)
	if err != nil {
		t.Fatalf("Get() error: %v", err)
	}
	if want := filepath.Join(c.Dir(), nameOf(t, img)); root != want {
		t.Errorf("Get() = %v, want %v", root, want)
	}
	checkStackTree(t, root)

	again, err := c.Get(context.Background(), counted)
	if err != nil || again != root {
		t.Errorf("Get() again = %v, %v, want %v", again, err, root)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("Get() twice opened layers %d times, want 1", n)
	}
	checkOnlyFinal(t, c, nameOf(t, img))
}

// checkStackTree checks a few well-known parts of a Debian bookworm tree.
func checkStackTree(t *testing.T, root string) {
	t.Helper()
	version, err := os.ReadFile(filepath.Join(root, "etc/debian_version"))
	if err != nil || !strings.HasPrefix(string(version), "12") {
		t.Errorf("etc/debian_version = %q, %v, want 12.x", version, err)
	}
	links := []struct{ name, target string }{
		{"bin", "usr/bin"}, // merged /usr
		{"usr/bin/sh", "dash"},
	}
	for _, l := range links {
		if got, err := os.Readlink(filepath.Join(root, l.name)); err != nil || got != l.target {
			t.Errorf("Readlink(%s) = %q, %v, want %q", l.name, got, err, l.target)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "bin/sh"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		t.Errorf("Stat(bin/sh) = %v, %v, want an executable file", fi, err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/doc")); err != nil {
		t.Errorf("Stat(usr/share/doc) error: %v", err)
	}
	fi, err = os.Stat(root)
	if err != nil || fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(layers.SourceDateEpoch()) {
		t.Errorf("Stat(/) = %v, %v, want mode 0755 and the epoch as mtime", fi, err)
	}
}

// nameOf is the name of img's tree under this process's id mapping.
func nameOf(t *testing.T, img v1.Image) string {
	t.Helper()
	_, chain, err := chainOf(img)
	if err != nil {
		t.Fatal(err)
	}
	return treeName(chain, sandbox.IDMapping())
}

// checkOnlyFinal checks that the cache holds the tree name and nothing but
// lock files besides.
func checkOnlyFinal(t *testing.T, c *Cache, name string) {
	t.Helper()
	entries, _ := os.ReadDir(c.Dir())
	for _, e := range entries {
		if e.Name() != name && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("rootfs cache holds %s, want only %s and locks", e.Name(), name)
		}
	}
}

func TestGetConcurrent(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	img := testStackImage(t)
	c := newCache(t)
	var opens atomic.Int32
	counted := countingImage{Image: img, opens: &opens}
	const callers = 4
	dirs := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { dirs[i], errs[i] = c.Get(context.Background(), counted) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("Get() caller %d = %v, %v, want %v", i, dirs[i], errs[i], dirs[0])
		}
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("%d concurrent Get() opened layers %d times, want 1", callers, n)
	}
	checkStackTree(t, dirs[0])
	checkOnlyFinal(t, c, nameOf(t, img))
}

func TestGetFailureLeavesNothing(t *testing.T) {
	base := imageOf(t, layerOf(t, testenv.Dir("etc", 0o555), testenv.File("etc/a", "a"), testenv.File("etc/b", "b")))
	tests := []struct {
		name string
		open func(v1.Layer) (io.ReadCloser, error)
		want error
	}{
		{
			name: "truncated stream",
			open: func(l v1.Layer) (io.ReadCloser, error) {
				rc, err := l.Uncompressed()
				return io.NopCloser(io.LimitReader(rc, 700)), err
			},
			want: io.ErrUnexpectedEOF,
		},
		{
			name: "content not matching diff id",
			open: func(l v1.Layer) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(string(testenv.Tar(t, testenv.File("etc/a", "evil"))))), nil
			},
			want: layers.ErrDiffIDMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t)
			img := brokenImage{Image: base, open: tt.open}
			_, err := c.Get(context.Background(), img)
			if !errors.Is(err, tt.want) {
				t.Errorf("Get() error = %v, want %v", err, tt.want)
			}
			checkOnlyFinal(t, c, "")
		})
	}
}

// TestGetPoisonedDiffID gets an image whose config claims the DiffID of
// another image's layer while its layer holds something else. The cache
// is keyed by the claimed DiffIDs, so without verification the crafted
// content would become the other image's rootfs.
func TestGetPoisonedDiffID(t *testing.T) {
	c := newCache(t)
	victim := layerOf(t, testenv.File("who", "victim"))
	claimed, err := victim.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	poisoned := lyingLayer{Layer: layerOf(t, testenv.File("who", "poisoned")), diffID: claimed}
	if _, err := c.Get(t.Context(), imageOf(t, poisoned)); !errors.Is(err, layers.ErrDiffIDMismatch) {
		t.Fatalf("Get(poisoned image) = %v, want %v", err, layers.ErrDiffIDMismatch)
	}
	checkOnlyFinal(t, c, "")
	dir, err := c.Get(t.Context(), imageOf(t, victim))
	if err != nil {
		t.Fatalf("Get(victim image) = %v", err)
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

func TestGetCancelled(t *testing.T) {
	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := imageOf(t, layerOf(t, testenv.File("a", "a")))
	if _, err := c.Get(ctx, img); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestGetNoLayers(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), empty.Image); err == nil {
		t.Errorf("Get(image without layers) succeeded, want an error")
	}
}

func TestRemoveReadOnlyTree(t *testing.T) {
	img := imageOf(t, layerOf(t,
		testenv.Dir("ro", 0o555), testenv.Dir("ro/deeper", 0o500), testenv.File("ro/deeper/f", "x"),
		testenv.Dir("locked", 0o000), testenv.File("locked/g", "y")))
	c := newCache(t)
	root, err := c.Get(context.Background(), img)
	if err != nil {
		t.Fatalf("Get() error: %v", err)
	}
	if err := c.Remove(img); err != nil {
		t.Fatalf("Remove() error: %v", err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after Remove() = %v, want not exist", root, err)
	}
	if entries, _ := os.ReadDir(c.Dir()); len(entries) != 0 {
		t.Errorf("after Remove() the cache holds %v, want nothing", entries)
	}
	if err := c.Remove(img); err != nil {
		t.Errorf("Remove() of a removed tree = %v, want nil", err)
	}
	if again, err := c.Get(context.Background(), img); err != nil || again != root {
		t.Errorf("Get() after Remove() = %v, %v, want %v", again, err, root)
	}
}

var (
	helperBin    sync.Once
	helperBinErr error
)

// writeLayout writes img to a new OCI layout and returns its directory.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	return writeLayoutIn(t, t.TempDir(), img)
}

// writeLayoutIn writes img to a new OCI layout in dir, readable by all
// users (ggcr writes layer blobs owner-only).
func writeLayoutIn(t *testing.T, dir string, img v1.Image) string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout.Write() error: %v", err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatalf("AppendImage() error: %v", err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatalf("making layout readable: %v", err)
	}
	return dir
}
