package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
)

func TestUnpackStack(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	stack := testenv.StackTar(t)
	asCallerAndUnprivileged(t, func(t *testing.T) {
		f, err := os.Open(stack)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dir := filepath.Join(t.TempDir(), "rootfs")
		if err := Unpack(f, dir); err != nil {
			t.Fatalf("Unpack(%s) = %v", stack, err)
		}
		version, err := os.ReadFile(filepath.Join(dir, "etc/debian_version"))
		if err != nil {
			t.Fatalf("reading etc/debian_version: %v", err)
		}
		if !strings.HasPrefix(string(version), "12.") {
			t.Errorf("etc/debian_version = %q, want 12.x (bookworm)", version)
		}
		if target, err := os.Readlink(filepath.Join(dir, "bin")); err != nil || target != "usr/bin" {
			t.Errorf("Readlink(bin) = %q, %v, want usr/bin (merged /usr)", target, err)
		}
		// An app layer can go on top of the stack, even into read-only dirs.
		app := makeTar(t, dirE("app/"), fileE("app/Procfile", "web: true\n"), fileE("usr/bin/.wh.yes", ""))
		if err := Unpack(bytes.NewReader(app), dir); err != nil {
			t.Fatalf("Unpack(app layer) = %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "usr/bin/yes")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after whiteout, Lstat(usr/bin/yes) = %v, want %v", err, fs.ErrNotExist)
		}
		if err := fsutil.RemoveAll(dir); err != nil {
			t.Fatalf("fsutil.RemoveAll() = %v", err)
		}
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after fsutil.RemoveAll(), Lstat() = %v, want %v", err, fs.ErrNotExist)
		}
	})
}

func TestUnpackReadOnlyTree(t *testing.T) {
	asCallerAndUnprivileged(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "root")
		lower := makeTar(t,
			tarEntry{name: "ro/", typ: tar.TypeDir, mode: 0o555},
			tarEntry{name: "ro/f", mode: 0o444, body: "f"},
			tarEntry{name: "ro/sub/", typ: tar.TypeDir, mode: 0o500},
			tarEntry{name: "ro/sub/g", mode: 0o400, body: "g"},
			tarEntry{name: "dev/", typ: tar.TypeDir, mode: 0o755},
			nullDevice(),
			tarEntry{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		)
		upper := makeTar(t,
			fileE("ro/new", "new"),
			fileE("ro/.wh.f", ""),
			fileE("ro/sub/.wh..wh..opq", ""),
		)
		for _, layer := range [][]byte{lower, upper} {
			if err := Unpack(bytes.NewReader(layer), dir); err != nil {
				t.Fatalf("Unpack() = %v", err)
			}
		}
		// dev/null is skipped: Unpack makes no devices.
		want := []string{"dev/", "fifo p---------", "ro/", "ro/new=new", "ro/sub/"}
		if got := listing(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Unpack() gave %q, want %q", got, want)
		}
		for name, mode := range map[string]fs.FileMode{"ro": 0o555, "ro/sub": 0o500} {
			info, err := os.Stat(filepath.Join(dir, name))
			if err != nil || info.Mode().Perm() != mode {
				t.Errorf("Stat(%s) = %v, %v, want mode %v", name, info.Mode(), err, mode)
			}
		}
		if err := fsutil.RemoveAll(dir); err != nil {
			t.Fatalf("fsutil.RemoveAll() = %v", err)
		}
	})
}

// nullDevice is /dev/null's tar entry (char 1:3), which only root could
// create. (Char 0:0 would not do: it is overlayfs's whiteout device, which
// anyone may create.)
func nullDevice() tarEntry {
	return tarEntry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}
}
