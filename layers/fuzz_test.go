package layers

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/fsutil"
)

// updateCorpus rewrites the checked-in seed corpus from hostileCases:
// go test ./layers -run TestFuzzUnpackCorpus -update-corpus
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzUnpack from the hostile cases")

// fuzzOutside is where the seeds' absolute symlinks and hard links point.
// It is fixed, since the corpus is checked in, and FuzzUnpack creates it.
const fuzzOutside = "/tmp/paas-fuzz-outside"

// fuzzMaxSize keeps each fuzz run quick; the limit itself is fuzzed too.
const fuzzMaxSize = 64 << 20

// FuzzUnpack feeds arbitrary tars to Unpack and checks that it never panics,
// never changes anything outside its root (a sibling directory, and
// fuzzOutside that the seeds aim absolute links at), and that RemoveAll can
// always clean up what it made. The seed corpus holds the hostile cases.
func FuzzUnpack(f *testing.F) {
	outsideBefore := prepareOutside(f, fuzzOutside)
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		prepareOutside(t, filepath.Join(base, "outside"))
		before := snapshotOutside(t, base, "root")
		root := filepath.Join(base, "root")
		// As a layer, and as a tree (AsTree: what comes back from BuildKit).
		for _, opts := range [][]UnpackOption{{WithMaxSize(fuzzMaxSize)}, {WithMaxSize(fuzzMaxSize), AsTree()}} {
			_ = Unpack(bytes.NewReader(data), root, opts...) // errors are fine; escapes are not
			if diffs := diffSnapshots(snapshotOutside(t, base, "root"), before); len(diffs) > 0 {
				t.Fatalf("Unpack() changed files outside its root:\n%s", strings.Join(diffs, "\n"))
			}
			if diffs := diffSnapshots(snapshot(t, fuzzOutside), outsideBefore); len(diffs) > 0 {
				t.Fatalf("Unpack() changed %s:\n%s", fuzzOutside, strings.Join(diffs, "\n"))
			}
			if err := fsutil.RemoveAll(root); err != nil {
				t.Fatalf("fsutil.RemoveAll() = %v", err)
			}
		}
	})
}

// prepareOutside makes dir with a file "secret" unless it is there (fuzz
// workers share fuzzOutside) and returns its snapshot.
func prepareOutside(t testing.TB, dir string) map[string]string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "secret"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.WriteString("secret")
		err = errors.Join(err, f.Close())
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatal(err)
	}
	return snapshot(t, dir)
}

// TestFuzzUnpackCorpus checks that the checked-in seed corpus holds every
// hostile case as it is built now.
func TestFuzzUnpackCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzUnpack")
	for _, tt := range hostileCases() {
		p := filepath.Join(dir, tt.name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", tt.tar(fuzzOutside))
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("seed %s is missing or stale (%v): run go test ./layers -run TestFuzzUnpackCorpus -update-corpus", p, err)
		}
	}
}
