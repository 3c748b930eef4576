// Package appfile opens the files paas itself reads from an app directory
// (Procfile, .env, .buildpacks, .slugignore, app.json). Apps and buildpacks
// are not trusted and paas reads these files on the host, so a link must
// not lead it out of the app (a Procfile linked to /etc/passwd or to
// /proc/self/environ), and only regular files are read (a fifo would hang
// the build, a device never end).
package appfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular reports an app file that is not a regular file once its
// links are resolved inside the app.
var ErrNotRegular = errors.New("not a regular file")

// Open opens dir/name for reading, resolving links inside dir only: a link
// leading out of it is an error naming the file. A missing file gives an
// error matching fs.ErrNotExist.
func Open(dir, name string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (paas does not follow links out of the app directory)", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MaxReadSize is the most ReadFile reads: app manifests are small, and a
// huge one must not take paas's memory.
const MaxReadSize = 4 << 20

// ReadFile reads dir/name as Open opens it, up to MaxReadSize bytes.
func ReadFile(dir, name string) ([]byte, error) {
	f, err := Open(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxReadSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxReadSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, MaxReadSize)
	}
	return data, nil
}
