package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveAllReadOnlyTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	mustMkdir(t, dir)
	mustMkdir(t, filepath.Join(dir, "ro"))
	mustWrite(t, filepath.Join(dir, "ro", "f"), "x")
	mustMkdir(t, filepath.Join(dir, "ro", "locked"))
	mustWrite(t, filepath.Join(dir, "ro", "locked", "g"), "y")
	for _, d := range []struct {
		path string
		mode fs.FileMode
	}{{"ro/locked", 0o000}, {"ro", 0o500}} {
		if err := os.Chmod(filepath.Join(dir, d.path), d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveAll(dir); err != nil {
		t.Fatalf("RemoveAll() = %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after RemoveAll() Lstat() = %v, want %v", err, fs.ErrNotExist)
	}
}

// TestRemoveAllKeepsLinkTargets removes a tree whose symlinks lead out of
// it, to a file and to a read-only directory: neither is touched.
func TestRemoveAllKeepsLinkTargets(t *testing.T) {
	outside := t.TempDir()
	mustWrite(t, filepath.Join(outside, "file"), "keep")
	ro := filepath.Join(outside, "ro")
	mustMkdir(t, ro)
	mustWrite(t, filepath.Join(ro, "f"), "keep")
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	dir := filepath.Join(t.TempDir(), "tree")
	mustMkdir(t, dir)
	for name, target := range map[string]string{"file": filepath.Join(outside, "file"), "ro": ro} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveAll(dir); err != nil {
		t.Fatalf("RemoveAll() = %v", err)
	}
	for _, p := range []string{filepath.Join(outside, "file"), filepath.Join(ro, "f")} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "keep" {
			t.Errorf("%s after RemoveAll() = %q, %v, want it kept", p, b, err)
		}
	}
	if fi, err := os.Stat(ro); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("Stat(%s) = %v, %v, want its mode kept", ro, fi, err)
	}
}

func TestRemoveAllSymlinkItself(t *testing.T) {
	target := t.TempDir()
	mustWrite(t, filepath.Join(target, "f"), "keep")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAll(link); err != nil {
		t.Fatalf("RemoveAll(link) = %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(link) = %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(target, "f")); err != nil {
		t.Errorf("link target's file: %v, want it kept", err)
	}
}

func TestRemoveAllMissingAndInvalid(t *testing.T) {
	if err := RemoveAll(filepath.Join(t.TempDir(), "missing", "deeper")); err != nil {
		t.Errorf("RemoveAll(missing) = %v, want nil", err)
	}
	for _, p := range []string{".", "/", "a/.."} {
		if err := RemoveAll(p); !errors.Is(err, os.ErrInvalid) {
			t.Errorf("RemoveAll(%q) = %v, want %v", p, err, os.ErrInvalid)
		}
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
