package layers

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// FromDir makes a layer of the tree under dir in one streaming pass. Entries
// are walked in name order and normalized (see the Option docs), so the
// result depends only on the tree's content. Hard links inside the tree stay
// hard links, symlinks are kept as they are and never followed, and sockets,
// devices and fifos are skipped with a warning. The directory itself is
// emitted only under a prefix (WithPrefix).
//
// The compressed blob is spooled into WithTempDir's directory and backs the
// returned layer; the caller owns its removal. The layer also has a
// Path() string method naming that file, so a store on the same filesystem
// can rename or link the blob instead of copying it.
func FromDir(dir string, opts ...Option) (v1.Layer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	root, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading layer source: %w", err)
	}
	if !root.IsDir() {
		return nil, fmt.Errorf("layer source %s: %w", dir, syscall.ENOTDIR)
	}
	return makeLayer(o, func(tw *tarWriter) error {
		if err := tw.prefixDirs(root.Mode()); err != nil {
			return err
		}
		w := &walker{tw: tw, o: tw.o, links: map[fileID]string{}}
		return w.walk(dir, "")
	})
}

// fileID identifies an inode, to recognise hard links.
type fileID struct{ dev, ino uint64 }

// walker writes a directory tree into a tarWriter.
type walker struct {
	tw *tarWriter
	o  *options
	// links maps each multiply-linked inode to the in-tar name of its first
	// occurrence; later occurrences become hard links to it.
	links map[fileID]string
}

// walk writes the children of abs, whose path in the tree is rel.
func (w *walker) walk(abs, rel string) error {
	entries, err := os.ReadDir(abs) // sorted by name
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", abs, err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(abs, e.Name()), err)
		}
		childRel := path.Join(rel, e.Name())
		if w.o.exclude(childRel, info.IsDir()) {
			continue
		}
		if err := w.entry(filepath.Join(abs, e.Name()), childRel, info); err != nil {
			return err
		}
	}
	return nil
}

// entry writes one file of any type, descending into directories.
func (w *walker) entry(abs, rel string, info fs.FileInfo) error {
	name := w.tw.name(rel)
	mode := info.Mode()
	switch {
	case mode.IsDir():
		if err := w.tw.dir(name, mode); err != nil {
			return err
		}
		if w.o.overlay && opaque(abs) {
			if err := w.tw.file(path.Join(name, opaqueWhiteout), 0o644, 0, strings.NewReader("")); err != nil {
				return err
			}
		}
		return w.walk(abs, rel)
	case w.o.overlay && isWhiteout(info):
		return w.tw.file(path.Join(path.Dir(name), whiteoutPrefix+path.Base(name)), 0o644, 0, strings.NewReader(""))
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return fmt.Errorf("reading symlink: %w", err)
		}
		return w.tw.symlink(name, target)
	case mode.IsRegular():
		return w.regular(abs, name, info)
	}
	w.o.warn(fmt.Sprintf("skipping %s %s", fsutil.KindOf(mode), name))
	return nil
}

// regular writes a regular file, or a hard link to an earlier entry of the
// same inode.
func (w *walker) regular(abs, name string, info fs.FileInfo) error {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		id := fileID{dev: st.Dev, ino: st.Ino}
		if first, seen := w.links[id]; seen {
			return w.tw.hardlink(name, first, info.Mode())
		}
		w.links[id] = name
	}
	if w.tw.headersOnly() {
		return w.tw.file(name, info.Mode(), info.Size(), nil)
	}
	// O_NOFOLLOW: if the file was swapped for a symlink since the walk
	// listed it, fail rather than read through the link.
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("reading layer source: %w", err)
	}
	defer f.Close()
	return w.tw.file(name, info.Mode(), info.Size(), f)
}

// isWhiteout reports whether info is an overlay whiteout: a character
// device numbered 0:0.
func isWhiteout(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && info.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// opaque reports whether the overlay marked the directory at abs opaque.
func opaque(abs string) bool {
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		buf := make([]byte, 1)
		if n, err := unix.Lgetxattr(abs, attr, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}
