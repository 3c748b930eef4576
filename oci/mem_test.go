package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// generatedLayer is a layer of size pseudo-random bytes made on the fly, so
// a test can move a large layer without holding it in memory.
type generatedLayer struct {
	seed   uint64
	size   int64
	digest v1.Hash
}

func newGeneratedLayer(t testing.TB, seed uint64, size int64) *generatedLayer {
	t.Helper()
	l := &generatedLayer{seed: seed, size: size}
	rc, _ := l.Compressed()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return l
}

func (l *generatedLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *generatedLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *generatedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *generatedLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }
func (l *generatedLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }
func (l *generatedLayer) Compressed() (io.ReadCloser, error) {
	var seed [32]byte
	seed[0] = byte(l.seed)
	return io.NopCloser(io.LimitReader(rand.NewChaCha8(seed), l.size)), nil
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLargeLayerStreams moves a 128 MiB layer through the store and an OCI
// archive and checks that no step allocates anywhere near the layer's size.
func TestLargeLayerStreams(t *testing.T) {
	const size, limit = 128 << 20, 8 << 20
	ctx := context.Background()
	img, err := mutate.AppendLayers(empty.Image, newGeneratedLayer(t, 1, size))
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	archive := "oci-archive:" + filepath.Join(t.TempDir(), "big.tar")
	var stored, loaded v1.Image
	steps := []struct {
		name string
		run  func() error
	}{
		{"Put", func() error { _, err := s.Put(ctx, KindImage, "big", img); return err }},
		{"Image and Write", func() error {
			stored, _, err = s.Image(KindImage, "big")
			if err != nil {
				return err
			}
			return Write(ctx, stored, archive, "big")
		}},
		{"Load and read", func() error {
			if loaded, err = Load(archive); err != nil {
				return err
			}
			rc, err := mustLayer(t, loaded).Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		}},
	}
	for _, st := range steps {
		var err error
		if n := allocated(func() { err = st.run() }); n > limit {
			t.Errorf("%s allocated %d bytes for a %d-byte layer, want at most %d", st.name, n, size, limit)
		}
		if err != nil {
			t.Fatalf("%s = %v", st.name, err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	const size = 64 << 20
	img, err := mutate.AppendLayers(empty.Image, newGeneratedLayer(b, 2, size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		home := b.TempDir()
		s, err := Open(home)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Put(context.Background(), KindImage, "bench", img); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(home)
		b.StartTimer()
	}
}

// BenchmarkPutExisting measures a Put whose blobs the store already has:
// the cost of a rebuild that changed nothing.
func BenchmarkPutExisting(b *testing.B) {
	img, err := mutate.AppendLayers(empty.Image, newGeneratedLayer(b, 3, 64<<20))
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Put(context.Background(), KindImage, "bench", img); err != nil {
			b.Fatal(err)
		}
	}
}

// Example_ociArchive pins the bytes of an OCI archive: the same image must
// always give the same file.
func Example_ociArchive() {
	layer := static.NewLayer([]byte("not really a tarball"), types.OCILayer)
	img, _ := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.tar")
	if err := Write(context.Background(), img, "oci-archive:"+path, "app:v1"); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	fmt.Printf("sha256:%x\n", sha256.Sum256(b))
	// Output: sha256:16f22ce2b71ae355a8ce6118864971f7faf85482a4814be355e1b5c69631b8bd
}
