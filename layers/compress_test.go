package layers

import (
	"archive/tar"
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/pgzip"
)

// bigBodyDigest pins the gzip layer of bigFiles: a change of level, block
// size, dictionary or library version shows up here as a changed digest
// (which changes every image paas builds) rather than going unnoticed.
const bigBodyDigest = "sha256:a226f31ef6a5a630b5ca7eb735acbc762e6b5acf5fb5666c84b764c0e863d145"

// bigFiles is a layer of several gzip blocks, part text and part random,
// whose size is not a multiple of the block size.
func bigFiles() []File {
	rng := rand.New(rand.NewPCG(5, 6))
	body := textLike(rng, 3*gzipMaxBlock)
	noise := make([]byte, gzipMaxBlock/2+12345)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	return []File{
		{Path: "text", Mode: 0o644, Body: body},
		{Path: "noise", Mode: 0o644, Body: noise},
	}
}

// TestGzipParallelDeterministic makes the same multi-block layer with 1, 2
// and 8 blocks in flight under GOMAXPROCS 1, 2 and 8, and wants one digest,
// the pinned one.
func TestGzipParallelDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	files := bigFiles()
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		for _, workers := range []int{0, 1, 2, 8} { // 0: the default, gzipWorkers()
			opts := []Option{WithTempDir(t.TempDir())}
			if workers > 0 {
				opts = append(opts, withCompressor(func(w io.Writer) (io.WriteCloser, error) { return newGzip(w, workers) }))
			}
			l, err := FromFiles(files, opts...)
			if err != nil {
				t.Fatalf("FromFiles() = %v", err)
			}
			if digest, _ := mustDigests(t, l); digest.String() != bigBodyDigest {
				t.Errorf("GOMAXPROCS %d, %d workers: Digest() = %s, want %s", procs, workers, digest, bigBodyDigest)
			}
		}
	}
}

// TestGzipParallelIsBlockwise checks the argument for determinism: the
// parallel compressor's output equals, byte for byte, a serial construction
// in which every block gets a fresh deflate compressor primed with the last
// 16 KiB of the block before. So nothing but the input reaches the bytes:
// not the sizes of the writes, nor the number of blocks in flight, nor which
// reused compressor took which block. On a stream that is not tar the
// blocks are of gzipMaxBlock bytes, and pgzip writes the same bytes; on a
// tar stream they end where tarEnds, an oracle of its own, says.
func TestGzipParallelIsBlockwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type input struct {
		name string
		data []byte
		cuts []int
	}
	var inputs []input
	for _, size := range []int{0, 100, gzipMaxBlock, 2*gzipMaxBlock + 777} {
		data := textLike(rng, size)
		inputs = append(inputs, input{fmt.Sprintf("%d bytes of text", size), data, blockCuts(len(data), nil)})
	}
	for _, files := range []int{1, 40, 400} {
		data, ends := tarEnds(t, rng, files)
		inputs = append(inputs, input{fmt.Sprintf("tar of %d files, %d bytes", files, len(data)), data, blockCuts(len(data), ends)})
	}
	for _, in := range inputs {
		want := blockwiseGzip(t, in.data, in.cuts)
		for _, workers := range []int{1, 2, 8} {
			for _, chunk := range []int{1 << 30, 512, 100_003} {
				if got := parallelOf(t, in.data, workers, chunk); !bytes.Equal(got, want) {
					t.Errorf("%s, %d workers, writes of %d: output differs from the blockwise construction (%d bytes, want %d)",
						in.name, workers, chunk, len(got), len(want))
				}
			}
		}
		if strings.HasPrefix(in.name, "tar") {
			continue
		}
		if got := pgzipOf(t, in.data); !bytes.Equal(got, want) {
			t.Errorf("%s: pgzip's output differs from the blockwise construction (%d bytes, want %d)", in.name, len(got), len(want))
		}
	}
}

// parallelOf compresses data with workers blocks in flight, in writes of
// chunk bytes.
func parallelOf(t *testing.T, data []byte, workers, chunk int) []byte {
	t.Helper()
	var got bytes.Buffer
	zw, err := newGzip(&got, workers)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := zw.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return got.Bytes()
}

// entryEnd is where a tar entry ends, and whether its header picks it to
// end a block.
type entryEnd struct {
	at     int
	picked bool
}

// tarEnds writes a tar of files of many sizes (a few larger than a block,
// a directory, a symlink and a name long enough for a PAX record) and says
// where each entry ends, from what archive/tar wrote for it.
func tarEnds(t *testing.T, rng *rand.Rand, files int) ([]byte, []entryEnd) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var ends []entryEnd
	header := func(h *tar.Header) {
		start := buf.Len()
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		written := buf.Bytes()[start:]
		if len(written) > 512 { // a PAX entry, then the header it is for
			ends = append(ends, entryEnd{start + len(written) - 512, crc32.ChecksumIEEE(written[:512])%gzipCutPick == 0})
		}
		main := written[len(written)-512:]
		ends = append(ends, entryEnd{buf.Len() + int(h.Size+511)/512*512, crc32.ChecksumIEEE(main)%gzipCutPick == 0})
	}
	header(&tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, Format: tar.FormatPAX})
	header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "app/link", Linkname: "f0", Mode: 0o777, Format: tar.FormatPAX})
	for i := range files {
		size := rng.IntN(40 << 10)
		if i%97 == 50 {
			size = gzipMaxBlock + rng.IntN(3*gzipMaxBlock)
		}
		name := fmt.Sprintf("app/f%d", i)
		if i == files/2 {
			name = "app/" + strings.Repeat("long-", 30) + name[4:]
		}
		header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size), Format: tar.FormatPAX})
		if _, err := tw.Write(textLike(rng, size)); err != nil {
			t.Fatal(err)
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ends
}

// blockCuts says where the blocks of a stream of size bytes end, given
// where its entries end: at a picked entry's end once a block holds
// gzipMinBlock bytes, and every gzipMaxBlock bytes otherwise.
func blockCuts(size int, ends []entryEnd) []int {
	var cuts []int
	start := 0
	for _, e := range append(ends, entryEnd{at: size}) {
		for e.at-start >= gzipMaxBlock {
			start += gzipMaxBlock
			cuts = append(cuts, start)
		}
		if e.picked && e.at-start >= gzipMinBlock {
			start = e.at
			cuts = append(cuts, start)
		}
	}
	return cuts
}

// pgzipOf compresses data with github.com/klauspost/pgzip at gzipLevel and
// gzipMaxBlock, whose framing parallelGzip shares.
func pgzipOf(t *testing.T, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := pgzip.NewWriterLevel(&out, gzipLevel)
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.SetConcurrency(gzipMaxBlock, 3); err != nil {
		t.Fatal(err)
	}
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestGzipParallelWriteError fails the writer under the compressor part way
// through a multi-block stream: the error comes back from Write or Close,
// and every later call fails too rather than hanging.
func TestGzipParallelWriteError(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := textLike(rng, 5*gzipMaxBlock)
	for _, budget := range []int{0, 5, 300 << 10} {
		zw, err := newGzip(&failingWriter{budget: budget}, 2)
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for p := data; len(p) > 0 && werr == nil; p = p[min(len(p), 64<<10):] {
			_, werr = zw.Write(p[:min(len(p), 64<<10)])
		}
		cerr := zw.Close()
		if !errors.Is(werr, errDiskFull) && !errors.Is(cerr, errDiskFull) {
			t.Errorf("budget %d: Write() = %v, Close() = %v, want %v", budget, werr, cerr, errDiskFull)
		}
		if _, err := zw.Write([]byte("x")); err == nil {
			t.Errorf("budget %d: Write() after a failure = nil, want an error", budget)
		}
		if err := zw.Close(); !errors.Is(err, errDiskFull) {
			t.Errorf("budget %d: second Close() = %v, want %v", budget, err, errDiskFull)
		}
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter accepts budget bytes, then fails.
type failingWriter struct{ budget int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.budget {
		n := w.budget
		w.budget = 0
		return n, errDiskFull
	}
	w.budget -= len(p)
	return len(p), nil
}

// blockwiseGzip compresses data the way gzipDictSize and gzipLevel say, one
// block after the other, each ending at the next of cuts and each with a
// new compressor: blocks end with a sync flush, the last (possibly empty)
// one also with the final block.
func blockwiseGzip(t *testing.T, data []byte, cuts []int) []byte {
	t.Helper()
	var out bytes.Buffer
	// ID, deflate, no flags, mtime 0, XFL 4 (fastest), OS 255 (unknown).
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255})
	var dict []byte
	start := 0
	for i := 0; ; i++ {
		end := len(data)
		if i < len(cuts) {
			end = cuts[i]
		}
		fw, err := flate.NewWriterDict(&out, gzipLevel, dict)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(data[start:end]); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		if i == len(cuts) {
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
			break
		}
		dict = data[max(end-gzipDictSize, start):end]
		start = end
	}
	out.Write(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data)))
	out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(data))))
	return out.Bytes()
}

// TestGzipParallelReadable reads a multi-block layer with the decoders that
// will meet it: ggcr's (validate.Layer), Go's compress/gzip reading a
// single member only, containerd's and, where installed, GNU gzip's. Each
// must give the DiffID's bytes.
func TestGzipParallelReadable(t *testing.T) {
	l, err := FromFiles(bigFiles(), WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("FromFiles() = %v", err)
	}
	checkLayer(t, l)
	_, diffID := mustDigests(t, l)
	blob := compressedBytes(t, l)

	zr, err := stdgzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatalf("compress/gzip: %v", err)
	}
	zr.Multistream(false)
	wantSHA(t, "compress/gzip, one member", zr, diffID)

	dr, err := compression.DecompressStream(bytes.NewReader(blob))
	if err != nil {
		t.Fatalf("containerd DecompressStream() = %v", err)
	}
	defer dr.Close()
	if c := dr.GetCompression(); c != compression.Gzip {
		t.Errorf("containerd detected compression %v, want gzip", c)
	}
	wantSHA(t, "containerd", dr, diffID)

	if _, err := exec.LookPath("gzip"); err != nil {
		t.Log("gzip not installed: GNU gzip not checked")
		return
	}
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(blob)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gzip -dc = %v", err)
	}
	wantSHA(t, "GNU gzip", bytes.NewReader(out), diffID)
}

func compressedBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	blob, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

func wantSHA(t *testing.T, decoder string, r io.Reader, want v1.Hash) {
	t.Helper()
	got, _, err := v1.SHA256(r)
	if err != nil {
		t.Errorf("%s: reading = %v", decoder, err)
		return
	}
	if got != want {
		t.Errorf("%s: sha256 of the decompressed stream = %s, want the DiffID %s", decoder, got, want)
	}
}

// FuzzGzipCuts feeds arbitrary streams, tar-like or not, to the compressor,
// whose tarCuts parses them as tar: it must never panic, give the same
// bytes whatever the writes' sizes, and decompress to the input.
func FuzzGzipCuts(f *testing.F) {
	var small bytes.Buffer
	tw := tar.NewWriter(&small)
	for i, size := range []int{0, 1, 511, 512, 513, 4000} {
		h := &tar.Header{Name: fmt.Sprintf("f%d", i), Mode: 0o644, Size: int64(size), Format: tar.FormatPAX}
		if i == 3 {
			h.Name = strings.Repeat("n", 150)
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		if _, err := tw.Write(bytes.Repeat([]byte{'x'}, size)); err != nil {
			f.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes(), 7)
	f.Add([]byte("not a tar at all"), 1)
	f.Add(make([]byte, 2048), 300)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		chunk = 1 + abs(chunk)%4096
		whole := parallelOf(t, data, 2, len(data)+1)
		if got := parallelOf(t, data, 1, chunk); !bytes.Equal(got, whole) {
			t.Fatalf("writes of %d bytes give other bytes than one write", chunk)
		}
		zr, err := stdgzip.NewReader(bytes.NewReader(whole))
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("decompressed %d bytes (%v), want the %d written", len(back), err, len(data))
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
