package layers

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blockReuse is a memReuse that also keeps the gzip blocks of the layers
// made, reading them from the blobs, and counts the blocks it gave back.
type blockReuse struct {
	*memReuse
	mu     sync.Mutex
	blocks map[BlockKey][]byte
	hits   int
}

func (b *blockReuse) Blocks(compressor string) Blocks { return b }

func (b *blockReuse) Block(key BlockKey) ([]byte, BlockSum) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.blocks[key]
	if out != nil {
		b.hits++
	}
	return out, sha256.Sum256(out)
}

func (b *blockReuse) Made(compressor string, headers v1.Hash, l v1.Layer) {
	b.memReuse.Made(compressor, headers, l)
	mb, ok := l.(MadeBlocks)
	if !ok {
		return
	}
	blob, err := os.ReadFile(l.(*spooledLayer).path)
	if err != nil {
		panic(err)
	}
	for _, bl := range mb.Blocks() {
		out := blob[bl.Offset : bl.Offset+bl.Length]
		if sha256.Sum256(out) != bl.Sum {
			panic("a block's sum is not that of its bytes in the blob")
		}
		b.blocks[bl.Key] = out
	}
}

// A layer whose content changed in one place is compressed only there: the
// other blocks come back from the last layer's, and the bytes are those of
// compressing it all.
func TestFromDirReusesBlocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	names := compressibleTree(t, dir, rand.New(rand.NewPCG(1, 2)), 8, func(i int) (string, int) {
		return filepath.Join("f", string(rune('a'+i))), 1 << 20
	})
	r, opts, first := firstReusing(t, dir)
	n := len(first.(MadeBlocks).Blocks())
	if n < 8 || r.hits != 0 {
		t.Fatalf("first layer: %d blocks, %d reused; want at least 8, none reused", n, r.hits)
	}

	// The same size, other bytes in the middle of one file.
	f, err := os.OpenFile(names[4], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("an edit in the middle"), 300<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	second := remade(t, dir, opts, "after an edit")
	if compressed := len(second.(MadeBlocks).Blocks()) - r.hits; compressed < 1 || compressed > 2 {
		t.Errorf("after one edit %d of %d blocks were compressed, want 1 or 2", compressed, n)
	}
	checkLayer(t, second)
}

// A file that grows moves every byte after it, but blocks end where picked
// tar entries end (tarCuts), so the blocks after the edit re-align and are
// taken from the last layer: only the few around the edit are compressed.
func TestFromDirReusesBlocksAfterResize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	rng := rand.New(rand.NewPCG(3, 4))
	names := compressibleTree(t, dir, rng, 600, func(i int) (string, int) {
		return filepath.Join(fmt.Sprintf("d%d", i/50), fmt.Sprintf("f%d", i)), 1 + rng.IntN(40<<10)
	})
	r, opts, first := firstReusing(t, dir)
	n := len(first.(MadeBlocks).Blocks())
	if n < 10 {
		t.Fatalf("first layer: %d blocks, want at least 10", n)
	}
	for _, edit := range []string{"grows by a few bytes", "shrinks"} {
		f, err := os.OpenFile(names[200], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if edit == "shrinks" {
			err = f.Truncate(100)
		} else {
			_, err = f.WriteAt([]byte("grown"), 50<<10)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		hits := r.hits
		second := remade(t, dir, opts, "after a file "+edit)
		blocks := len(second.(MadeBlocks).Blocks())
		if compressed := blocks - (r.hits - hits); compressed < 1 || compressed > 3 {
			t.Errorf("after a file %s, %d of %d blocks were compressed, want 1 to 3", edit, compressed, blocks)
		}
	}
}

// compressibleTree writes n files under dir, named and sized by file, of
// bytes compressible but not trivially, and returns their paths.
func compressibleTree(t *testing.T, dir string, rng *rand.Rand, n int, file func(i int) (string, int)) []string {
	t.Helper()
	var names []string
	for i := range n {
		rel, size := file(i)
		data := make([]byte, size)
		for j := range data {
			data[j] = byte('a' + rng.IntN(8))
		}
		name := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// firstReusing makes the first layer of dir under a blockReuse, and returns
// the reuse and the options that make the next layers with it.
func firstReusing(t *testing.T, dir string) (*blockReuse, []Option, v1.Layer) {
	t.Helper()
	r := &blockReuse{memReuse: newMemReuse(), blocks: map[BlockKey][]byte{}}
	opts := []Option{WithPrefix("app"), WithTempDir(t.TempDir()), WithReuse(r)}
	first, err := FromDir(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r, opts, first
}

// The one pass of a blockwise layer hashes the headers as the header pass
// does, so a Reuse that is not a BlockReuse finds the layers it recorded.
func TestBlockwiseRecordsHeaders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	compressibleTree(t, dir, rand.New(rand.NewPCG(5, 6)), 20, func(i int) (string, int) {
		return fmt.Sprintf("f%d", i), 1000 * i
	})
	r, _, _ := firstReusing(t, dir)
	again, err := FromDir(dir, WithPrefix("app"), WithTempDir(t.TempDir()), WithReuse(r.memReuse))
	if err != nil {
		t.Fatal(err)
	}
	if !Reused(again) || r.maybe != 1 {
		t.Errorf("made again without blocks: reused %v after %d Maybe calls, want reused after 1", Reused(again), r.maybe)
	}
}

// remade makes dir's layer again with opts (reusing blocks) and checks it
// is byte for byte the layer compressing it whole gives.
func remade(t *testing.T, dir string, opts []Option, when string) v1.Layer {
	t.Helper()
	l, err := FromDir(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := FromDir(dir, WithPrefix("app"), WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := l.Digest()
	want, _ := plain.Digest()
	if got != want {
		t.Errorf("%s: with reused blocks the layer is %s, compressed whole %s", when, got, want)
	}
	return l
}
