package layers

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestFromDirStreamsLargeFiles makes a layer of a 1 GiB file (sparse on
// disk, so the test stays cheap) and checks that the bytes allocated while
// doing so stay far below the file's size: nothing buffers whole files, and
// the parallel gzip compressor allocates its gzipWorkers()+1 blocks (input
// and output, 2 MiB each) and gzipWorkers() deflate compressors (1.8 MiB
// each) once and reuses them.
func TestFromDirStreamsLargeFiles(t *testing.T) {
	const size = 1 << 30
	workers := gzipWorkers()
	maxAlloc := uint64(2<<20 + (workers+1)*2<<20 + workers*2<<20)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l, err := FromDir(dir, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("FromDir() = %v", err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloc {
		t.Errorf("FromDir() of a %d-byte file allocated %d bytes, want at most %d", size, alloc, maxAlloc)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		t.Fatalf("reading Uncompressed() = %v", err)
	}
	if n < size {
		t.Errorf("Uncompressed() gave %d bytes, want more than %d", n, size)
	}
}

// TestUnpackKeepsHoles unpacks a file of zeros and checks it takes no disk
// blocks: a small tar with a huge sparse entry must not fill the disk.
func TestUnpackKeepsHoles(t *testing.T) {
	const size = 64 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(src, "zeros"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), size-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l, err := FromDir(src, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("FromDir() = %v", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := filepath.Join(dir, "out")
	if err := Unpack(rc, out); err != nil {
		t.Fatalf("Unpack() = %v", err)
	}
	info, err := os.Stat(filepath.Join(out, "zeros"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != size {
		t.Errorf("unpacked size = %d, want %d", info.Size(), size)
	}
	if blocks := info.Sys().(*syscall.Stat_t).Blocks * 512; blocks > 1<<20 {
		t.Errorf("unpacked file uses %d bytes of disk, want its zeros left as holes", blocks)
	}
	tail := make([]byte, 3)
	g, err := os.Open(filepath.Join(out, "zeros"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.ReadAt(tail, size-3); err != nil || string(tail) != "end" {
		t.Errorf("unpacked tail = %q, %v, want %q", tail, err, "end")
	}
}

func TestGzipHeaderIsBare(t *testing.T) {
	l, err := FromFiles([]File{{Path: "f", Mode: 0o644, Body: []byte("x")}}, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("FromFiles() = %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(compressedBytes(t, l)))
	if err != nil {
		t.Fatalf("gzip.NewReader() = %v", err)
	}
	if zr.Name != "" || zr.Comment != "" || !zr.ModTime.Equal(time.Time{}) || zr.Extra != nil {
		t.Errorf("gzip header = name %q comment %q mtime %v extra %q, want all empty", zr.Name, zr.Comment, zr.ModTime, zr.Extra)
	}
}
