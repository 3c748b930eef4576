package layers

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// withCompressor makes spool compress with fn instead of the compressor
// WithCompression selects.
func withCompressor(fn func(w io.Writer) (io.WriteCloser, error)) Option {
	return func(o *options) error {
		o.compressor = fn
		return nil
	}
}

// BenchmarkExportGoroot measures how fast a layer of a large real tree is
// made: walk, tar, compress, sha256 of both streams and spooling to a file,
// in MB/s of file content. The tree is the Go toolchain's GOROOT (~270 MB in
// ~15k files), so the benchmark is skipped where there is none. Rows:
//
//   - tar-only: no compression, the rate the tree can be read and tarred;
//   - gzip-serial-default: one gzip stream at the default level, the
//     compressor paas used before;
//   - pgzip-1-limit: pgzip at level 1 with its own defaults (1 MiB blocks,
//     GOMAXPROCS blocks in flight), the streaming limit the target is set
//     against;
//   - parallel: what FromDir does by default (parallelGzip);
//   - parallel-level-N, parallel-default-level: the same at other levels,
//     for the choice of gzipLevel.
//
// Each row also reports the compressed size (MB-out), the share of the tree
// it is (ratio) and MB per second of CPU time used by the process
// (MB/cpu-s), which other load on the machine disturbs less than MB/s: on
// a busy machine compare rows by it, and by their best MB/s over several
// runs.
func BenchmarkExportGoroot(b *testing.B) {
	root := goroot(b)
	size := treeSize(b, root)
	rows := []struct {
		name     string
		compress func(w io.Writer) (io.WriteCloser, error)
	}{
		{"tar-only", func(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil }},
		{"gzip-serial-default", func(w io.Writer) (io.WriteCloser, error) {
			zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
			if err != nil {
				return nil, err
			}
			zw.ModTime = time.Unix(0, 0)
			return zw, nil
		}},
		{"pgzip-1-limit", func(w io.Writer) (io.WriteCloser, error) {
			return pgzip.NewWriterLevel(w, pgzip.BestSpeed)
		}},
		{"parallel", nil},
		{"parallel-level-2", parallelAt(2)},
		{"parallel-level-3", parallelAt(3)},
		{"parallel-default-level", parallelAt(flate.DefaultCompression)},
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			tmp := b.TempDir()
			opts := []Option{WithTempDir(tmp)}
			if row.compress != nil {
				opts = append(opts, withCompressor(row.compress))
			}
			b.SetBytes(size)
			var out int64
			runs := 0
			cpu0 := cpuTime(b)
			for b.Loop() {
				l, err := FromDir(root, opts...)
				if err != nil {
					b.Fatalf("FromDir(%s) = %v", root, err)
				}
				out, _ = l.Size()
				os.Remove(l.(*spooledLayer).Path())
				runs++
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(out)/1e6, "MB-out")
			b.ReportMetric(float64(out)/float64(size), "ratio")
			b.ReportMetric(float64(size)*float64(runs)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}

// parallelAt returns parallelGzip's constructor at another level.
func parallelAt(level int) func(w io.Writer) (io.WriteCloser, error) {
	return func(w io.Writer) (io.WriteCloser, error) {
		return &parallelGzip{w: w, level: level, workers: gzipWorkers()}, nil
	}
}

// goroot returns the Go toolchain's root, skipping the benchmark when there
// is none to read.
func goroot(b *testing.B) string {
	b.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("no Go toolchain tree to benchmark with: go env GOROOT: %v", err)
	}
	root := strings.TrimSpace(string(out))
	if info, err := os.Stat(filepath.Join(root, "src")); err != nil || !info.IsDir() {
		b.Skipf("no Go toolchain tree to benchmark with at %q", root)
	}
	return root
}

// treeSize returns the bytes of regular file content under root.
func treeSize(b *testing.B, root string) int64 {
	b.Helper()
	var size int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return size
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// cpuTime returns the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
