package stacks

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
)

// helperEnv makes the test binary act as a helper process (see runHelper)
// instead of running tests: rootless and kill tests need a second process.
const helperEnv = "STACKS_TEST_HELPER"

// sharedDir holds what several tests reuse, such as the test stack's layer.
var sharedDir string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[len(os.Args)-2:]))
	}
	var err error
	sharedDir, err = os.MkdirTemp("", "stacks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	fsutil.RemoveAll(sharedDir)
	os.Exit(code)
}

var testStack struct {
	once sync.Once
	img  v1.Image
	err  error
}

// testStackImage returns the test stack (a Debian bookworm minbase) as an image,
// made once per test binary.
func testStackImage(t *testing.T) v1.Image {
	t.Helper()
	tarPath := testenv.StackTar(t)
	testStack.once.Do(func() {
		testStack.img, testStack.err = FromTarball(tarPath, sharedDir)
	})
	if testStack.err != nil {
		t.Fatalf("FromTarball(test stack) error: %v", testStack.err)
	}
	return testStack.img
}

// entry is one tar entry of a crafted layer.
type entry struct {
	name string
	typ  byte
	mode int64
	body string // file content, or the link target of links
}

func dir(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
func file(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: 0o644, body: body}
}
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, mode: 0o777, body: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, mode: 0o644, body: target}
}
func whiteout(name string) entry             { return entry{name: name, typ: tar.TypeReg, mode: 0o644} }
func special(name string, typ byte) entry    { return entry{name: name, typ: typ, mode: 0o666} }
func withMode(e entry, mode int64) entry     { e.mode = mode; return e }
func fileMode(name string, mode int64) entry { return withMode(file(name, name), mode) }

// tarBytes writes entries as a tar archive.
func tarBytes(t testing.TB, entries ...entry) []byte {
	t.Helper()
	b, err := buildTar(entries...)
	if err != nil {
		t.Fatalf("writing test tar: %v", err)
	}
	return b
}

func buildTar(entries ...entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: layers.DefaultEpoch}
		switch e.typ {
		case tar.TypeReg:
			hdr.Size = int64(len(e.body))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = e.body
		case tar.TypeChar:
			hdr.Devmajor, hdr.Devminor = 1, 3 // /dev/null
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.body); e.typ == tar.TypeReg && err != nil {
			return nil, err
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}

// layerOf makes a gzip layer of entries with ggcr, an implementation
// independent of this package's.
func layerOf(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	b := tarBytes(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("LayerFromOpener() error: %v", err)
	}
	return l
}

// imageOf stacks the given layers into an OCI image.
func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err := mutate.ConfigFile(base, stackConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatalf("AppendLayers() error: %v", err)
	}
	return img
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

// runHelper runs one helper mode with args (home, source) and returns the
// exit code:
//   - rootfs: import source, unpack it with Rootfs and print the directory;
//   - remove: import source and RemoveRootfs its tree;
//   - stall: like rootfs, but the layer stream stops after its first bytes
//     and the helper prints "stalled" and waits to be killed.
func runHelper(mode string, args []string) int {
	if err := helper(mode, args[0], args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func helper(mode, home, source string) error {
	ctx := context.Background()
	img, err := Import(ctx, source, home)
	if err != nil {
		return err
	}
	switch mode {
	case "remove":
		d, err := img.Digest()
		if err != nil {
			return err
		}
		return RemoveRootfs(home, d)
	case "stall":
		img = brokenImage{Image: img, open: stallAfter(512 * 3)}
	}
	dir, err := Rootfs(ctx, home, img)
	if err != nil {
		return err
	}
	fmt.Println(dir)
	return nil
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

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
