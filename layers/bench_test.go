package layers

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/fsutil"
)

// BenchmarkFromDir measures layer creation throughput (MB/s of file
// content) for a tree of many small files and for one large file, with each
// compression.
func BenchmarkFromDir(b *testing.B) {
	trees := []struct {
		name string
		make func(b *testing.B, dir string) int64
	}{
		{name: "small-files", make: makeSmallFiles},
		{name: "large-file", make: makeLargeFile},
	}
	for _, tree := range trees {
		dir := b.TempDir()
		size := tree.make(b, dir)
		for _, c := range []Compression{Gzip, Zstd} {
			b.Run(tree.name+"/"+string(c), func(b *testing.B) {
				tmp := b.TempDir()
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					l, err := FromDir(dir, WithCompression(c), WithTempDir(tmp))
					if err != nil {
						b.Fatalf("FromDir() = %v", err)
					}
					os.Remove(l.(*spooledLayer).Path())
				}
			})
		}
	}
}

// BenchmarkUnpack measures unpacking throughput of the same two trees.
func BenchmarkUnpack(b *testing.B) {
	for _, tree := range []struct {
		name string
		make func(b *testing.B, dir string) int64
	}{
		{name: "small-files", make: makeSmallFiles},
		{name: "large-file", make: makeLargeFile},
	} {
		b.Run(tree.name, func(b *testing.B) {
			src := b.TempDir()
			size := tree.make(b, src)
			l, err := FromDir(src, WithTempDir(b.TempDir()))
			if err != nil {
				b.Fatalf("FromDir() = %v", err)
			}
			out := b.TempDir()
			b.SetBytes(size)
			for b.Loop() {
				rc, err := l.Uncompressed()
				if err != nil {
					b.Fatal(err)
				}
				dst := filepath.Join(out, "root")
				if err := Unpack(rc, dst); err != nil {
					b.Fatalf("Unpack() = %v", err)
				}
				rc.Close()
				if err := fsutil.RemoveAll(dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// makeSmallFiles writes 2,000 files of 2 KiB of text-like content in 40
// directories, roughly what a node_modules tree looks like.
func makeSmallFiles(b *testing.B, dir string) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for d := range 40 {
		sub := filepath.Join(dir, fmt.Sprintf("pkg-%02d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 50 {
			body := textLike(rng, 2<<10)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%02d.js", f)), body, 0o644); err != nil {
				b.Fatal(err)
			}
			total += int64(len(body))
		}
	}
	return total
}

// makeLargeFile writes one 64 MiB file, half text-like and half random, so
// neither compressor gets an unrealistically easy or hard input.
func makeLargeFile(b *testing.B, dir string) int64 {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const chunk, total = 1 << 20, 64 << 20
	for i := range total / chunk {
		body := textLike(rng, chunk)
		if i%2 == 1 {
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
		}
		if _, err := f.Write(body); err != nil {
			b.Fatal(err)
		}
	}
	return total
}

var words = strings.Fields("function return const var let module exports require this that value index length buffer string number object")

// textLike returns n bytes of source-code-like text.
func textLike(rng *rand.Rand, n int) []byte {
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(8) == 0 {
			sb.WriteString(";\n")
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String()[:n])
}
