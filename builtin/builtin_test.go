package builtin

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/paas-dev/paas/buildpack"
)

func TestNames(t *testing.T) {
	want := []string{"go", "nodejs", "python", "static", "procfile"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	Names()[0] = "changed"
	if Names()[0] != "go" {
		t.Fatal("Names() returned its own slice: a caller changed the detection order")
	}
}

// Every buildpack is extracted with executable bin/detect and bin/compile,
// its bin/release and the shared helpers, in detection order.
func TestExtractWritesBuildpacks(t *testing.T) {
	bps, err := Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(bps) != len(Names()) {
		t.Fatalf("Extract() returned %d buildpacks, want %d", len(bps), len(Names()))
	}
	pins := map[string]bool{}
	for i, bp := range bps {
		dir, name := bp.Dir, Names()[i]
		if filepath.Base(dir) != name || bp.Ref != name || bp.Name != name {
			t.Errorf("Extract()[%d] = %+v, want %s in a directory of that name", i, *bp, name)
		}
		if !strings.HasPrefix(bp.Resolved, "builtin@sha256:") || pins[bp.Resolved] {
			t.Errorf("Extract()[%d].Resolved = %q, want its own builtin@sha256: content hash", i, bp.Resolved)
		}
		pins[bp.Resolved] = true
		for _, script := range []string{"bin/detect", "bin/compile", "bin/release"} {
			fi, err := os.Stat(filepath.Join(dir, script))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s/%s mode = %v, want 0755", dir, script, fi.Mode().Perm())
			}
		}
		fi, err := os.Stat(filepath.Join(dir, "lib", "common.sh"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s/lib/common.sh mode = %v, want 0644", dir, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(bps[3].Dir, "server", "main.go")); err != nil {
		t.Errorf("the static buildpack lacks its server source: %v", err)
	}
}

// A second Extract, and concurrent ones, reuse the same content-addressed
// directory and leave no temporary directories behind.
func TestExtractIsIdempotentAndAtomic(t *testing.T) {
	dir := t.TempDir()
	first, err := Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(first[0].Dir, "bin", "detect")
	before, _ := os.Stat(marker)
	var wg sync.WaitGroup
	results := make([][]*buildpack.Buildpack, 8)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got, err := Extract(dir)
			if err != nil {
				t.Error(err)
			}
			results[i] = got
		}(i)
	}
	wg.Wait()
	for _, got := range results {
		if !reflect.DeepEqual(got, first) {
			t.Errorf("Extract() = %v, want %v", got, first)
		}
	}
	after, _ := os.Stat(marker)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("a second Extract rewrote the buildpacks")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the content-addressed directory", dir, len(entries))
	}
}

// Changed buildpacks (a newer paas binary) extract into a new directory
// next to the old one.
func TestExtractIsContentAddressed(t *testing.T) {
	dir := t.TempDir()
	first, err := Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := contentHash("buildpacks")
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(filepath.Dir(first[0].Dir)); got != sum[:16] {
		t.Errorf("Extract() wrote into %s, want the content hash's first 16 digits %s", got, sum)
	}
}

func TestExtractReportsUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(file); err == nil {
		t.Fatal("Extract(a file) succeeded, want an error")
	}
}
