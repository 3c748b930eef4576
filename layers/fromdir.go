package layers

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	return spool(o, func(tw *tarWriter) error {
		if err := tw.prefixDirs(root.Mode()); err != nil {
			return err
		}
		w := &walker{tw: tw, o: o, links: map[fileID]string{}}
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
		return w.walk(abs, rel)
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
	// O_NOFOLLOW: if the file was swapped for a symlink since the walk
	// listed it, fail rather than read through the link.
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("reading layer source: %w", err)
	}
	defer f.Close()
	return w.tw.file(name, info.Mode(), info.Size(), f)
}
