package layers

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrInvalidPath is returned (wrapped) for a File path that is empty,
// absolute, not clean, or climbs out with "..", or that appears twice.
var ErrInvalidPath = errors.New("invalid layer path")

// ErrUnsupportedType is returned (wrapped) for a File whose mode is neither
// a regular file, a directory nor a symlink.
var ErrUnsupportedType = errors.New("unsupported file type")

// File is one entry of a generated layer. Mode carries fs.ModeDir for
// directories and fs.ModeSymlink (with Link as the target) for symlinks;
// Body is the content of a regular file.
type File struct {
	Path string
	Mode fs.FileMode
	Body []byte
	Link string
}

// FromFiles makes a layer of a few generated files, such as the launcher.
// Entries are written sorted by path, normalized like FromDir's; parent
// directories are not implied, so list them when their mode matters.
func FromFiles(files []File, opts ...Option) (v1.Layer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	sorted, err := sortFiles(files)
	if err != nil {
		return nil, err
	}
	return makeLayer(o, func(tw *tarWriter) error {
		if err := tw.prefixDirs(defaultDirMode); err != nil {
			return err
		}
		for _, f := range sorted {
			if o.exclude(f.Path, f.Mode.IsDir()) {
				continue
			}
			if err := writeFile(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// sortFiles checks the paths and returns a sorted copy of files.
func sortFiles(files []File) ([]File, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for i, f := range sorted {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].Path == f.Path {
			return nil, fmt.Errorf("%q appears twice: %w", f.Path, ErrInvalidPath)
		}
	}
	return sorted, nil
}

func checkPath(p string) error {
	if p == "" || p == "." || path.Clean(p) != p || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%q: %w", p, ErrInvalidPath)
	}
	return nil
}

func writeFile(tw *tarWriter, f File) error {
	name := tw.name(f.Path)
	switch f.Mode.Type() {
	case fs.ModeDir:
		return tw.dir(name, f.Mode)
	case fs.ModeSymlink:
		return tw.symlink(name, f.Link)
	case 0:
		return tw.file(name, f.Mode, int64(len(f.Body)), bytes.NewReader(f.Body))
	}
	return fmt.Errorf("%s has mode %v: %w", f.Path, f.Mode, ErrUnsupportedType)
}
