package layers_test

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
)

// With AsTree, a tar is a directory tree, not a layer: .wh. names are
// files, directories keep exactly their modes, and the extraction policy
// still holds (set-ID bits dropped, device nodes skipped).
func TestUnpackAsTree(t *testing.T) {
	testenv.Require(t, testenv.Root) // a directory of mode 000 is only searched by root
	tarball := testenv.Tar(t,
		testenv.Dir("app", 0o711),
		testenv.File("app/.wh.index.txt", "literal"),
		testenv.Dir("app/opq", 0o755),
		testenv.File("app/opq/.wh..wh..opq", ""),
		testenv.Dir("app/d000", 0o755),
		testenv.File("app/d000/inside", "kept"),
		testenv.Dir("app/d200", 0o200),
		testenv.FileMode("app/suid", 0o4755),
		testenv.Special("app/disk", tar.TypeBlock),
		testenv.Dir("app/d000", 0o000),
	)
	dir := t.TempDir()
	if err := layers.Unpack(bytes.NewReader(tarball), dir, layers.AsTree()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		"app":                  fs.ModeDir | 0o711,
		"app/.wh.index.txt":    0o644,
		"app/opq/.wh..wh..opq": 0o644,
		"app/d000":             fs.ModeDir,
		"app/d000/inside":      0o644,
		"app/d200":             fs.ModeDir | 0o200,
		"app/suid":             0o755,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid); got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "app/disk")); err == nil {
		t.Error("the device node was made")
	}
}
