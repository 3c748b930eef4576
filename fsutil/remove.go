package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// RemoveAll removes dir and everything under it, like os.RemoveAll, but
// first gives the owner rwx on each directory so that trees unpacked with
// read-only directories (a rootfs has many) can be removed by their owner.
// Symlinks are removed, never followed. A missing dir is not an error.
// Files of other users are for sandbox.RemoveAll, which builds on this.
func RemoveAll(dir string) error {
	clean := filepath.Clean(dir)
	parent, base := filepath.Split(clean)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("removing %s: %w", dir, os.ErrInvalid)
	}
	if parent == "" {
		parent = "."
	}
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	defer unix.Close(pfd)
	if err := RemoveAt(pfd, base); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// RemoveAt removes the entry name of directory dirfd and, for a directory,
// everything in it, as RemoveAll does. Each name is a single path element
// opened relative to its parent without following symlinks, so nothing
// outside is touched. A missing name is not an error.
func RemoveAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	if err := emptyDirAt(dirfd, name); err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// emptyDirAt removes everything inside the directory name of dirfd.
func emptyDirAt(dirfd int, name string) error {
	fd, err := OpenDirAt(dirfd, name)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	return emptyDir(fd, d)
}

// emptyDir removes every entry of the open directory d (whose descriptor is
// fd), making it writable first.
func emptyDir(fd int, d *os.File) error {
	if err := unix.Fchmod(fd, 0o700); err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := RemoveAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}

// OpenDirAt opens directory name of dirfd for reading, never following a
// symlink (it fails with ELOOP or ENOTDIR); if the owner cannot read it,
// it is chmodded u+rwx first. The caller closes the descriptor.
func OpenDirAt(dirfd int, name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if !errors.Is(err, unix.EACCES) {
		return fd, err
	}
	// fchmodat would follow a symlink, so check first that name is a real
	// directory; O_NOFOLLOW on the retry refuses a symlink swapped in since.
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return -1, unix.ENOTDIR
	}
	if err := unix.Fchmodat(dirfd, name, st.Mode&0o7777|0o700, 0); err != nil {
		return -1, err
	}
	return unix.Openat(dirfd, name, flags, 0)
}
