package builtin

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
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
	dirs, err := Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(Names()) {
		t.Fatalf("Extract() returned %d directories, want %d", len(dirs), len(Names()))
	}
	for i, dir := range dirs {
		if filepath.Base(dir) != Names()[i] {
			t.Errorf("Extract()[%d] = %s, want a directory named %s", i, dir, Names()[i])
		}
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
	if _, err := os.Stat(filepath.Join(dirs[3], "server", "main.go")); err != nil {
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
	marker := filepath.Join(first[0], "bin", "detect")
	before, _ := os.Stat(marker)
	var wg sync.WaitGroup
	results := make([][]string, 8)
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
	sum, err := contentHash()
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(filepath.Dir(first[0])); got != sum {
		t.Errorf("Extract() wrote into %s, want the content hash %s", got, sum)
	}
	if len(sum) != 16 {
		t.Errorf("contentHash() = %q, want 16 hex digits", sum)
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
