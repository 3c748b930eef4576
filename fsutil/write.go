package fsutil

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes another file only when complete:
// Commit renames it over its destination, which must be in the same
// directory, so readers see the old content or the new, never a part,
// also after a crash.
type File struct {
	*os.File
	done bool
}

// CreateTemp creates a new temporary file in dir, named after pattern as
// os.CreateTemp does (mode 0600). Put it in the directory of the file it
// will become; call Discard when done with it in any case (it does nothing
// after Commit).
func CreateTemp(dir, pattern string) (*File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &File{File: f}, nil
}

// Commit syncs the file, closes it, renames it to path and syncs path's
// directory, so that the new content is durable once Commit returns.
func (f *File) Commit(path string) error {
	if f.done {
		return fmt.Errorf("committing %s: %w", f.Name(), os.ErrClosed)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	f.done = true
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("renaming %s: %w", f.Name(), err)
	}
	return SyncDir(filepath.Dir(path))
}

// Discard closes and removes the file unless Commit took it. It is meant to
// be deferred right after CreateTemp.
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// WriteFile replaces path with what write writes, atomically (see File):
// write gets a buffered writer to a temporary file next to path, which
// gets exactly perm, whatever the umask, and is renamed to path once
// write and the sync succeed. On failure path is untouched and the
// temporary file is gone.
func WriteFile(path string, perm fs.FileMode, write func(io.Writer) error) error {
	f, err := CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer f.Discard()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	return f.Commit(path)
}

// WriteFileData is WriteFile of the bytes data.
func WriteFileData(path string, perm fs.FileMode, data []byte) error {
	return WriteFile(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir makes a rename or removal in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
