package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPutImageRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for _, kind := range []Kind{KindImage, KindStack} {
		t.Run(string(kind), func(t *testing.T) {
			img := randomImage(t, 1024, 3)
			got, err := s.Put(ctx, kind, "app", img)
			if err != nil {
				t.Fatalf("Put() = %v", err)
			}
			if want := digestOf(t, img); got != want {
				t.Errorf("Put() = %v, want %v", got, want)
			}
			back, e, err := s.Image(kind, "app:latest")
			if err != nil {
				t.Fatalf("Image() = %v", err)
			}
			if err := validate.Image(back); err != nil {
				t.Errorf("validate.Image() = %v", err)
			}
			if d := digestOf(t, back); d != got || e.Digest != got {
				t.Errorf("Image() digest = %v, entry %v, want %v", d, e.Digest, got)
			}
			if e.Kind != kind || e.Name != "app:latest" {
				t.Errorf("Image() entry = %s %s, want %s app:latest", e.Kind, e.Name, kind)
			}
			size, _ := img.Size()
			cfg, _ := img.RawConfigFile()
			want := size + int64(len(cfg))
			layers, _ := img.Layers()
			for _, l := range layers {
				n, _ := l.Size()
				want += n
			}
			if e.Size != want {
				t.Errorf("Image() entry size = %d, want %d", e.Size, want)
			}
		})
	}
}

func TestImageNotFound(t *testing.T) {
	s := openStore(t)
	if _, err := s.Put(context.Background(), KindStack, "app", randomImage(t, 100, 1)); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	// Kinds are separate namespaces: a stack named app is no image.
	if _, _, err := s.Image(KindImage, "app"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Image() = %v, want ErrNotFound", err)
	}
	if err := s.Remove(KindImage, "app"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove() = %v, want ErrNotFound", err)
	}
}

func TestPutInvalid(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name string
		kind Kind
		tag  string
	}{
		{"unknown kind", Kind("cache"), "app"},
		{"empty name", KindImage, ""},
		{"upper case", KindImage, "App"},
		{"digest", KindImage, "app@sha256:" + strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Put(context.Background(), tt.kind, tt.tag, empty.Image); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Put(%q, %q) = %v, want ErrInvalidName", tt.kind, tt.tag, err)
			}
		})
	}
}

func TestRetagReplaces(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	first, second := randomImage(t, 100, 1), randomImage(t, 100, 1)
	if _, err := s.Put(ctx, KindImage, "app:v1", first); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	if _, err := s.Put(ctx, KindImage, "app:v1", second); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	list, err := s.List(KindImage)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if len(list) != 1 || list[0].Digest != digestOf(t, second) {
		t.Errorf("List() = %+v, want one entry with %v", list, digestOf(t, second))
	}
	// The first image is untagged; GC drops its blobs.
	if err := s.GC(); err != nil {
		t.Fatalf("GC() = %v", err)
	}
	if blobs := blobNames(t, s); slices.Contains(blobs, digestOf(t, first).Hex) {
		t.Errorf("GC() kept the manifest of the replaced image")
	}
}

func TestListRemoveGC(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	base := randomImage(t, 2048, 2)
	extra := randomImage(t, 2048, 1)
	extraLayers, _ := extra.Layers()
	derived, err := mutate.AppendLayers(base, extraLayers...)
	if err != nil {
		t.Fatalf("AppendLayers() = %v", err)
	}
	puts := []struct {
		kind Kind
		name string
		img  v1.Image
	}{
		{KindStack, "heroku-24", base},
		{KindImage, "web", derived},
		{KindImage, "api:v2", base},
	}
	for _, p := range puts {
		if _, err := s.Put(ctx, p.kind, p.name, p.img); err != nil {
			t.Fatalf("Put(%s, %s) = %v", p.kind, p.name, err)
		}
	}
	tests := []struct {
		kind Kind
		want []string
	}{
		{KindImage, []string{"api:v2", "web:latest"}},
		{KindStack, []string{"heroku-24:latest"}},
		{"", []string{"api:v2", "heroku-24:latest", "web:latest"}},
	}
	for _, tt := range tests {
		t.Run("list "+string(tt.kind), func(t *testing.T) {
			if got := entryNames(t, s, tt.kind); !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %v, want %v", tt.kind, got, tt.want)
			}
		})
	}

	// web shares the base layers with the stack: removing web keeps them.
	if err := s.Remove(KindImage, "web"); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if got, want := blobNames(t, s), reachableNames(t, base); !slices.Equal(got, want) {
		t.Errorf("blobs after Remove(web) = %v, want those of base %v", got, want)
	}
	img, _, err := s.Image(KindStack, "heroku-24")
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() after Remove = %v", err)
	}
	for _, p := range []struct {
		kind Kind
		name string
	}{{KindStack, "heroku-24"}, {KindImage, "api:v2"}} {
		if err := s.Remove(p.kind, p.name); err != nil {
			t.Fatalf("Remove() = %v", err)
		}
	}
	if got := blobNames(t, s); len(got) != 0 {
		t.Errorf("blobs after removing every tag = %v, want none", got)
	}
}

func TestPutStreamedLayer(t *testing.T) {
	s := openStore(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	tw.Write([]byte("hello"))
	tw.Close()
	img, err := mutate.AppendLayers(empty.Image, stream.NewLayer(io.NopCloser(&buf)))
	if err != nil {
		t.Fatalf("AppendLayers() = %v", err)
	}
	d, err := s.Put(context.Background(), KindImage, "streamed", img)
	if err != nil {
		t.Fatalf("Put() = %v", err)
	}
	back, _, err := s.Image(KindImage, "streamed")
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
	if got := digestOf(t, back); got != d {
		t.Errorf("Image() digest = %v, want %v", got, d)
	}
}

// lyingLayer reports a digest its content does not have.
type lyingLayer struct{ v1.Layer }

func (lyingLayer) Digest() (v1.Hash, error) {
	return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}, nil
}

func mustLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("Layers() = %v, %v", layers, err)
	}
	return layers[0]
}

func TestOpenCreatesLayout(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(home)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if s.Home() != home {
		t.Errorf("Home() = %q, want %q", s.Home(), home)
	}
	for _, f := range []string{"oci/oci-layout", "oci/index.json", "oci/blobs/sha256"} {
		if _, err := os.Stat(filepath.Join(home, f)); err != nil {
			t.Errorf("Open() did not create %s: %v", f, err)
		}
	}
	// Opening again keeps what is there.
	if _, err := s.Put(context.Background(), KindImage, "app", randomImage(t, 10, 1)); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	s2, err := Open(home)
	if err != nil {
		t.Fatalf("Open() again = %v", err)
	}
	if got := entryNames(t, s2, KindImage); !slices.Equal(got, []string{"app:latest"}) {
		t.Errorf("List() after reopening = %v, want [app:latest]", got)
	}
}

func entryNames(t *testing.T, s *Store, kind Kind) []string {
	t.Helper()
	list, err := s.List(kind)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	return names
}

func indexBytes(t *testing.T, s *Store) []byte {
	t.Helper()
	b, err := os.ReadFile(s.path("index.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blobNames lists the sha256 blobs of the store, sorted.
func blobNames(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.path("blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func tempNames(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.path("blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "sha256" {
			names = append(names, e.Name())
		}
	}
	return names
}

// reachableNames lists the blobs of img (manifest, config, layers), sorted.
func reachableNames(t *testing.T, img v1.Image) []string {
	t.Helper()
	names := []string{digestOf(t, img).Hex}
	cfg, _ := img.ConfigName()
	names = append(names, cfg.Hex)
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		names = append(names, d.Hex)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// verifyBlobs checks that every blob's content hashes to its name.
func verifyBlobs(t *testing.T, s *Store) {
	t.Helper()
	for _, n := range blobNames(t, s) {
		f, err := os.Open(s.path("blobs", "sha256", n))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != n {
			t.Errorf("blob %s has digest %s", n, got)
		}
	}
}

// A stored image's layers give the DiffIDs its config claims without
// reading their blobs: a build asks for them on every run, and reading a
// stack's layers took seconds. What unpacks a layer checks the claim.
func TestStoredLayerDiffIDFromConfig(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, 1024, 2)
	if _, err := s.Put(context.Background(), KindStack, "base", img); err != nil {
		t.Fatal(err)
	}
	back, _, err := s.Image(KindStack, "base")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Layers()
	got, err := back.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range got {
		d, _ := l.Digest()
		if err := os.Remove(s.blobPath(d)); err != nil {
			t.Fatal(err)
		}
		wd, _ := want[i].DiffID()
		if gd, err := l.DiffID(); err != nil || gd != wd {
			t.Errorf("layer %d DiffID() = %v, %v; want %v from the config, with the blob gone", i, gd, err, wd)
		}
	}
}

// fileLayer is a layer whose compressed bytes are in a file it names, as
// the layers package spools them; lying, it names a file of other bytes.
type fileLayer struct {
	v1.Layer
	path string
}

func (l fileLayer) Path() string { return l.path }

// A spooled layer's file is linked into the store, not copied, once it
// matches its digest; a file that does not match is refused and nothing
// is stored.
func TestPutLinksSpooledLayer(t *testing.T) {
	s := openStore(t)
	l := mustLayer(t, randomImage(t, 4096, 1))
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, append([]byte("x"), blob[1:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.putLayer(ctx, fileLayer{l, bad}); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("putLayer(a file of other bytes) = %v, want %v", err, ErrDigestMismatch)
	}
	digest, _ := l.Digest()
	if _, err := os.Stat(s.blobPath(digest)); !os.IsNotExist(err) {
		t.Fatalf("after a refused layer, its blob: %v, want it absent", err)
	}
	if err := s.putLayer(ctx, fileLayer{l, good}); err != nil {
		t.Fatalf("putLayer() = %v", err)
	}
	spooled, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.Stat(s.blobPath(digest))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(spooled, stored) {
		t.Errorf("the stored blob is a copy of the spooled file, want a link to it")
	}
}
