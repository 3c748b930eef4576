package builder

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// countingCache counts the blocks a layerCache gives back.
type countingCache struct {
	*layerCache
	hits atomic.Int32
}

func (c *countingCache) Blocks(compressor string) layers.Blocks {
	if c.layerCache.Blocks(compressor) == nil {
		return nil
	}
	return c
}

func (c *countingCache) Block(key layers.BlockKey) ([]byte, layers.BlockSum) {
	b, sum := c.layerCache.Block(key)
	if b != nil {
		c.hits.Add(1) // from the compressor's workers, at once
	}
	return b, sum
}

// The record keeps each gzip layer's blocks; the next export takes the
// unchanged ones from the stored blob, each checked against its recorded
// sum, and gives the bytes compressing everything gives. A damaged block
// is compressed again; the others are still taken.
func TestLayerCacheBlocks(t *testing.T) {
	ctx := context.Background()
	store, err := oci.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(t.TempDir(), "layers.json")
	tree := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 6<<20)
	for i := range data {
		data[i] = byte('a' + rng.IntN(8))
	}
	file := filepath.Join(tree, "data")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	export := func(c layers.Reuse) v1.Layer {
		t.Helper()
		l, err := layers.FromDir(tree, layers.WithPrefix("app"), layers.WithTempDir(t.TempDir()), layers.WithReuse(c))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first := openLayerCache(store, record, false)
	l := export(first)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, oci.KindImage, "app", img); err != nil {
		t.Fatal(err)
	}
	if err := first.save(); err != nil {
		t.Fatal(err)
	}

	copy(data[3<<20:], "one edit")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	plain, err := layers.FromDir(tree, layers.WithPrefix("app"), layers.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := plain.Digest()
	second := &countingCache{layerCache: openLayerCache(store, record, false)}
	defer second.close()
	if got, _ := export(second).Digest(); got != want || second.hits.Load() < 4 {
		t.Errorf("after an edit: %s with %d blocks taken again; want %s with most of 6 or 7 blocks", got, second.hits.Load(), want)
	}

	digest, _ := l.Digest()
	blob := filepath.Join(store.Home(), "oci", "blobs", "sha256", digest.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/8] ^= 0xff // in a block the edit did not touch
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := &countingCache{layerCache: openLayerCache(store, record, false)}
	defer damaged.close()
	if got, _ := export(damaged).Digest(); got != want || damaged.hits.Load() >= second.hits.Load() || damaged.hits.Load() == 0 {
		t.Errorf("with one block of the blob damaged: %s with %d blocks taken; want %s with fewer than %d, more than none", got, damaged.hits.Load(), want, second.hits.Load())
	}
}
