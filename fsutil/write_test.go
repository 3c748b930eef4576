package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, body := range []string{"first", "second, longer"} {
		if err := WriteFileData(path, 0o644, []byte(body)); err != nil {
			t.Fatalf("WriteFileData(%q) = %v", body, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("Stat() = %v, %v, want mode 0644 whatever the umask", fi, err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != body {
			t.Errorf("ReadFile() = %q, %v, want %q", b, err, body)
		}
	}
	checkOnly(t, dir, "f")
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	mustWrite(t, path, "old")
	boom := errors.New("boom")
	err := WriteFile(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("WriteFile() = %v, want %v", err, boom)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed WriteFile() the file holds %q, want %q", b, "old")
	}
	checkOnly(t, dir, "f")
}

func TestCreateTempCommitDiscard(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(dir, ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Discard()
	io.WriteString(f, "content")
	if err := f.Commit(filepath.Join(dir, "named")); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	f.Discard() // after Commit: nothing to do
	if b, err := os.ReadFile(filepath.Join(dir, "named")); err != nil || string(b) != "content" {
		t.Errorf("committed file = %q, %v, want %q", b, err, "content")
	}
	if err := f.Commit(filepath.Join(dir, "again")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Commit() = %v, want %v", err, os.ErrClosed)
	}

	g, err := CreateTemp(dir, ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	g.Discard()
	checkOnly(t, dir, "named")
}

// checkOnly fails unless dir holds exactly the file name.
func checkOnly(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %q, want only %s", dir, names, name)
	}
}
