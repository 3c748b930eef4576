package stacks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/rootfs"
	"github.com/paas-dev/paas/sandbox"
)

// benchTar writes a synthetic rootfs tarball: files dirs, each with
// filesPerDir files of fileSize bytes, half random and half text, so that
// compression has real work to do.
func benchTar(b *testing.B, dirs, filesPerDir, fileSize int) (string, int64) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []testenv.TarEntry
	for d := range dirs {
		dn := fmt.Sprintf("usr/lib/pkg%d", d)
		entries = append(entries, testenv.Dir(dn, 0o755))
		for f := range filesPerDir {
			body := make([]byte, fileSize)
			for i := range body[:fileSize/2] {
				body[i] = byte(rng.Uint32())
			}
			for i := fileSize / 2; i < fileSize; i++ {
				body[i] = "stack benchmark text\n"[i%21]
			}
			entries = append(entries, testenv.File(fmt.Sprintf("%s/f%d", dn, f), string(body)))
		}
	}
	p := filepath.Join(b.TempDir(), "rootfs.tar")
	data := testenv.Tar(b, entries...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return p, int64(len(data))
}

func BenchmarkFromTarball(b *testing.B) {
	p, size := benchTar(b, 50, 40, 8<<10)
	tmp := b.TempDir()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromTarball(p, tmp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRootfs unpacks a stack made by FromTarball into a new rootfs
// cache each time, as the first build on a stack does.
func BenchmarkRootfs(b *testing.B) {
	p, size := benchTar(b, 50, 40, 8<<10)
	img, err := FromTarball(p, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	b.Cleanup(func() { sandbox.RemoveAll(base) })
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c, err := rootfs.Open(filepath.Join(base, strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Get(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}
