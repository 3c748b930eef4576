package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// ReadRegular reads regular files, through links that stay inside the
// root, up to a limit; a FIFO, a device, a directory or a link out of the
// root is refused without blocking.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "inside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "outside")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, name := range []string{"file", "inside"} {
		if data, err := ReadRegular(root, name, 100); err != nil || string(data) != "content" {
			t.Errorf("ReadRegular(%s) = %q, %v", name, data, err)
		}
	}
	for name, want := range map[string]string{"fifo": "not a regular file", ".": "not a regular file", "outside": "escapes", "file": "larger than 3 bytes"} {
		limit := int64(100)
		if name == "file" {
			limit = 3
		}
		if _, err := ReadRegular(root, name, limit); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadRegular(%s) = %v, want an error saying %q", name, err, want)
		}
	}
}
