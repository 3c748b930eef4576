package fsutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The state changes with anything a build could read, even a file
// rewritten with the same size and modification time, and not with what
// skip leaves out or with reading.
func TestStateDigest(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/b.txt", "one")
	write("c.txt", "two")
	write(".git/HEAD", "ref: refs/heads/main")
	if err := os.Symlink("c.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	skip := func(rel string, _ bool) bool { return rel == ".git" }
	never, always := time.Unix(1<<32, 0), time.Unix(0, 0) // trust every time; read every file
	state := func(racy time.Time) string {
		t.Helper()
		d, err := StateDigest(root, skip, racy)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	trusted, read := state(never), state(always)
	if trusted == read {
		t.Error("reading racy files does not change the digest")
	}
	if _, err := os.ReadFile(filepath.Join(root, "a/b.txt")); err != nil {
		t.Fatal(err)
	}
	write(".git/HEAD", "ref: refs/heads/other")
	if state(never) != trusted || state(always) != read {
		t.Error("reading a file or changing a skipped one changed the state")
	}

	// Same size, modification time set back: the change time still differs.
	info, err := os.Stat(filepath.Join(root, "c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the filesystem's timestamp tick
	write("c.txt", "TWO")
	if err := os.Chtimes(filepath.Join(root, "c.txt"), info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if state(never) == trusted {
		t.Error("a rewrite with the same size and time left the state unchanged")
	}
	trusted = state(never)

	for _, change := range []func() error{
		func() error { return os.Chmod(filepath.Join(root, "c.txt"), 0o600) },
		func() error { return os.Remove(filepath.Join(root, "link")) },
		func() error { return os.Symlink("a", filepath.Join(root, "link")) },
		func() error { return os.Mkdir(filepath.Join(root, "empty"), 0o755) },
	} {
		if err := change(); err != nil {
			t.Fatal(err)
		}
		if now := state(never); now == trusted {
			t.Error("a change left the state unchanged")
		} else {
			trusted = now
		}
	}
}
