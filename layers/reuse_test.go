package layers

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// memReuse is a Reuse that remembers layers in memory, keyed by
// compressor, and counts what it was asked.
type memReuse struct {
	headers map[string]bool
	layers  map[string]v1.Layer
	made    []v1.Layer
	maybe   int // Maybe calls
	lookups int // Layer calls
}

func newMemReuse() *memReuse {
	return &memReuse{headers: map[string]bool{}, layers: map[string]v1.Layer{}}
}

func (m *memReuse) Maybe(compressor string, headers v1.Hash) bool {
	m.maybe++
	return m.headers[compressor+" "+headers.String()]
}

func (m *memReuse) Layer(compressor string, diffID v1.Hash) v1.Layer {
	m.lookups++
	return m.layers[compressor+" "+diffID.String()]
}

func (m *memReuse) Made(compressor string, headers v1.Hash, l v1.Layer) {
	diffID, err := l.DiffID()
	if err != nil {
		panic(err)
	}
	m.headers[compressor+" "+headers.String()] = true
	m.layers[compressor+" "+diffID.String()] = l
	m.made = append(m.made, l)
}

// blobs counts the files in dir: one per layer spooled, that is, per
// compression.
func blobs(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// An unchanged tree is found by its DiffID and given back without being
// compressed again; a changed one is made anew, at once when its headers
// changed, after hashing its content when only a file's bytes did.
func TestFromDirReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	makeTree(t, dir, sampleTree, false, time.Now())
	tmp := t.TempDir()
	r := newMemReuse()
	opts := []Option{WithPrefix("app"), WithTempDir(tmp), WithReuse(r)}
	first, err := FromDir(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if Reused(first) || blobs(t, tmp) != 1 || r.lookups != 0 {
		t.Fatalf("first layer reused %v, %d blobs, %d lookups; want made, 1 blob, no lookup (headers unknown)", Reused(first), blobs(t, tmp), r.lookups)
	}
	plain, err := FromDir(dir, WithPrefix("app"), WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if d1, _ := mustDigests(t, first); d1 != must(plain.Digest()) {
		t.Errorf("with WithReuse the layer is %s, without %s", d1, must(plain.Digest()))
	}

	// Other file times and another place: the same layer, not compressed.
	moved := filepath.Join(t.TempDir(), "moved")
	makeTree(t, moved, sampleTree, true, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	again, err := FromDir(moved, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !Reused(again) || blobs(t, tmp) != 1 {
		t.Errorf("unchanged tree: reused %v, %d blobs; want reused, still 1 blob", Reused(again), blobs(t, tmp))
	}
	if must(again.Digest()) != must(first.Digest()) || must(again.DiffID()) != must(first.DiffID()) {
		t.Errorf("reused layer %s, want %s", must(again.Digest()), must(first.Digest()))
	}
	checkLayer(t, again)

	// Same size, other bytes: headers match, content does not.
	lookups := r.lookups
	if err := os.WriteFile(filepath.Join(moved, "z-last"), []byte(fmt.Sprintf("%015000d", 7)), 0o644); err != nil {
		t.Fatal(err)
	}
	sameSize, err := FromDir(moved, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if Reused(sameSize) || r.lookups != lookups+1 || must(sameSize.DiffID()) == must(first.DiffID()) {
		t.Errorf("one file's bytes changed: reused %v after %d lookups, diff ID %s; want a new layer after one lookup", Reused(sameSize), r.lookups-lookups, must(sameSize.DiffID()))
	}

	// Another size: the headers differ, so the content is not even hashed.
	lookups = r.lookups
	if err := os.WriteFile(filepath.Join(moved, "z-last"), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	grown, err := FromDir(moved, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if Reused(grown) || r.lookups != lookups {
		t.Errorf("one file's size changed: reused %v after %d lookups; want a new layer, no lookup", Reused(grown), r.lookups-lookups)
	}
	if blobs(t, tmp) != 3 || len(r.made) != 4 {
		t.Errorf("%d blobs, %d layers told, want 3 and 4", blobs(t, tmp), len(r.made))
	}
}

// A layer of another compression, or one whose content is not what was
// asked for, is never given back.
func TestReuseChecksWhatItGets(t *testing.T) {
	files := []File{{Path: "a", Mode: 0o644, Body: []byte("a")}}
	r := newMemReuse()
	gz, err := FromFiles(files, WithTempDir(t.TempDir()), WithReuse(r))
	if err != nil {
		t.Fatal(err)
	}
	zst, err := FromFiles(files, WithTempDir(t.TempDir()), WithReuse(r), WithCompression(Zstd))
	if err != nil {
		t.Fatal(err)
	}
	if Reused(zst) || must(zst.Digest()) == must(gz.Digest()) {
		t.Errorf("zstd layer reused %v, digest %s: want its own", Reused(zst), must(zst.Digest()))
	}
	// A Reuse that answers with another layer for the DiffID asked for.
	other, err := FromFiles([]File{{Path: "b", Mode: 0o644}}, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for k := range r.layers {
		r.layers[k] = other
	}
	l, err := FromFiles(files, WithTempDir(t.TempDir()), WithReuse(r))
	if err != nil {
		t.Fatal(err)
	}
	if Reused(l) || must(l.Digest()) != must(gz.Digest()) {
		t.Errorf("a wrong layer from Reuse was taken: reused %v, digest %s", Reused(l), must(l.Digest()))
	}
}

// Hashing before compressing says nothing twice: each skipped file is
// warned about once.
func TestReuseWarnsOnce(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newMemReuse()
	for i := range 3 {
		var warnings []string
		l, err := FromDir(dir, WithTempDir(t.TempDir()), WithReuse(r), WithWarn(func(msg string) { warnings = append(warnings, msg) }))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"skipping fifo pipe"}; !reflect.DeepEqual(warnings, want) {
			t.Errorf("build %d (reused %v): warnings %q, want %q", i, Reused(l), warnings, want)
		}
	}
}

// probe is a layer's files whose gzip blocks are cut both where picked tar
// entries end and at gzipMaxBlock: 64 files of 32 KiB, then one of 3 MiB,
// each half text and half noise.
func probe() []File {
	b := make([]byte, 5<<20)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if i/4096%2 == 0 {
			b[i] = "the quick brown fox jumps over the lazy dog\n"[i%44]
		} else {
			b[i] = byte(x)
		}
	}
	var files []File
	for i := range 64 {
		files = append(files, File{Path: fmt.Sprintf("probe/%02d", i), Mode: 0o644, Body: b[i<<15 : (i+1)<<15]})
	}
	return append(files, File{Path: "probe/large", Mode: 0o644, Body: b[2<<20:]})
}

// Layers are found again by CompressorID, so it must name the compressed
// bytes exactly. If this test fails, the compressor's output changed: give
// CompressorID a new name for it and pin the new digest here, or a build
// with a cache would reuse layers compressed the old way and give another
// digest than a build without.
func TestCompressorID(t *testing.T) {
	want := map[string]string{
		"gzip/paas-parallel-flate-1-tar-cuts-512KiB-1MiB": "sha256:1c66d3b5099143b3b7cd60891f43646145ff08210d0b62914f19f32b569946bd",
		"zstd/klauspost-default-2":                        "sha256:243c2a570ad1b00c456bb442e04207e0c5c21dc94c0de8fe9f6a35f5e719e139",
	}
	files := probe()
	for _, c := range []Compression{Gzip, Zstd} {
		l, err := FromFiles(files, WithCompression(c), WithTempDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		id := CompressorID(c)
		if got := must(l.Digest()).String(); got != want[id] {
			t.Errorf("%s: CompressorID %q compresses the probe to %s, pinned as %q: the compressor changed, so name it anew (see the comment)", c, id, got, want[id])
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// alwaysMaybe is a Reuse that knows every layer's headers and no layer:
// the worst case, where the content is hashed and then compressed.
type alwaysMaybe struct{}

func (alwaysMaybe) Maybe(string, v1.Hash) bool { return true }

func (alwaysMaybe) Layer(string, v1.Hash) v1.Layer { return nil }

func (alwaysMaybe) Made(string, v1.Hash, v1.Layer) {}

// BenchmarkFromDirReuse measures FromDir under WithReuse (MB/s of file
// content, gzip): "unchanged" finds the layer (headers and content
// hashed, nothing compressed), "new" is a layer whose headers are unknown
// (headers hashed, then compressed as without reuse), "same-headers" one
// whose headers are known and content is not (hashed, then compressed).
func BenchmarkFromDirReuse(b *testing.B) {
	for _, tree := range []struct {
		name string
		make func(b *testing.B, dir string) int64
	}{
		{name: "small-files", make: makeSmallFiles},
		{name: "large-file", make: makeLargeFile},
	} {
		dir := b.TempDir()
		size := tree.make(b, dir)
		known := newMemReuse()
		if _, err := FromDir(dir, WithTempDir(b.TempDir()), WithReuse(known)); err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			reuse func() Reuse
		}{
			{"unchanged", func() Reuse { return known }},
			{"new", func() Reuse { return newMemReuse() }},
			{"same-headers", func() Reuse { return alwaysMaybe{} }},
		} {
			b.Run(tree.name+"/"+c.name, func(b *testing.B) {
				tmp := b.TempDir()
				b.SetBytes(size)
				for b.Loop() {
					l, err := FromDir(dir, WithTempDir(tmp), WithReuse(c.reuse()))
					if err != nil {
						b.Fatal(err)
					}
					if s, ok := l.(*spooledLayer); ok {
						os.Remove(s.Path())
					}
				}
			})
		}
	}
}
