package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/sandbox"
)

// benchApp is the tree BenchmarkWorkCopy prepares: $PAAS_BENCH_APP, else
// the Go toolchain's own tree (GOROOT: some 270 MB in 15,000 files).
func benchApp(b *testing.B) string {
	b.Helper()
	if dir := os.Getenv("PAAS_BENCH_APP"); dir != "" {
		return dir
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("no app to prepare: set PAAS_BENCH_APP (go env GOROOT: %v)", err)
	}
	return strings.TrimSpace(string(out))
}

// BenchmarkWorkCopy measures what making the working copy costs a build:
// "copy" as every build paid before overlays (copyTree, then, as root,
// giving every file to root inside), "overlay" as a build pays now (the
// upper layer with its whiteouts, and at the end the merged view for the
// host; the overlay mounts in each sandbox start are not counted, nor are
// they in "copy").
func BenchmarkWorkCopy(b *testing.B) {
	src := benchApp(b)
	skip := appSkip(appFilter{}, nil)
	for _, mode := range []string{"copy", "overlay"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "overlay" && sandbox.Available() != nil {
				b.Skip("no sandbox here")
			}
			var upper, view time.Duration // overlay: preparing the upper layer, mounting the view
			for b.Loop() {
				work := b.TempDir()
				dir := filepath.Join(work, "app")
				if mode == "copy" {
					if _, err := copyWorkCopy(src, dir, skip, "benchmark", nil); err != nil {
						b.Fatal(err)
					}
					if err := sandbox.Own(dir); err != nil {
						b.Fatal(err)
					}
				} else {
					start := time.Now()
					w, reason, err := overlayWorkCopy(src, dir, skip, nil)
					if err != nil || reason != "" {
						b.Fatalf("overlayWorkCopy() = %q, %v", reason, err)
					}
					if err := sandbox.Own(dir); err != nil {
						b.Fatal(err)
					}
					mid := time.Now()
					if _, err := w.finish(); err != nil {
						b.Fatal(err)
					}
					view += time.Since(mid)
					upper += mid.Sub(start)
					w.close()
				}
				b.StopTimer()
				if err := sandbox.RemoveAll(work); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if mode == "overlay" {
				b.ReportMetric(float64(upper.Milliseconds())/float64(b.N), "upper-ms/op")
				b.ReportMetric(float64(view.Milliseconds())/float64(b.N), "view-ms/op")
			}
		})
	}
}
