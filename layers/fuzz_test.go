package layers

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack feeds arbitrary tars to Unpack and checks that it never panics,
// never changes anything outside its root (a sibling directory and an
// absolute path the seeds aim symlinks at), and that RemoveAll can always
// clean up what it made.
func FuzzUnpack(f *testing.F) {
	target := f.TempDir() // absolute symlink targets in the seeds point here
	seeds := [][]tarEntry{
		{fileE("../../escape", "x"), fileE("/abs/file", "x")},
		{linkE("out", target), fileE("out/pwned", "x"), hardE("h", "out")},
		{linkE("rel", "../outside"), dirE("rel/"), fileE("rel/pwned", "x"), fileE("../outside/secret", "x")},
		{dirE("outside/"), linkE("up", "../../outside"), fileE("up/x", "x"), fileE(".wh.up", "")},
		{linkE("w", target), fileE("w/.wh.secret", ""), fileE("w/.wh..wh..opq", ""), hardE("hs", target+"/secret")},
		{tarEntry{name: "ro/", typ: tar.TypeDir, mode: 0o500}, fileE("ro/f", "x"), fileE("ro/.wh.f", "")},
		{linkE("a", "b"), linkE("b", "a"), fileE("a/loop", "x")},
	}
	for _, s := range seeds {
		f.Add(makeTar(f, s...))
	}
	if err := os.WriteFile(filepath.Join(target, "secret"), []byte("secret"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		outside := filepath.Join(base, "outside")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshotOutside(t, base, "root")
		beforeTarget := snapshot(t, target)
		root := filepath.Join(base, "root")
		_ = Unpack(bytes.NewReader(data), root) // errors are fine; escapes are not
		after := snapshotOutside(t, base, "root")
		if diffs := diffSnapshots(after, before); len(diffs) > 0 {
			t.Fatalf("Unpack() changed files outside its root:\n%s", strings.Join(diffs, "\n"))
		}
		if diffs := diffSnapshots(snapshot(t, target), beforeTarget); len(diffs) > 0 {
			t.Fatalf("Unpack() changed %s:\n%s", target, strings.Join(diffs, "\n"))
		}
		if err := RemoveAll(root); err != nil {
			t.Fatalf("RemoveAll() = %v", err)
		}
	})
}
