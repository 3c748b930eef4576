package layers

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// whiteout applies ".wh.NAME" or the opaque marker found in directory
// parent. A whiteout in a directory that does not exist hides nothing.
func (u *unpacker) whiteout(parent, base string) error {
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if base != opaqueWhiteout && (name == "" || name == "." || name == "..") {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafeEntry, name)
	}
	pfd, err := u.root.openDir(parent)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := u.root.ensureWritable(pfd, parent); err != nil {
		return err
	}
	if base == opaqueWhiteout {
		return u.opaque(pfd, parent)
	}
	return u.hide(pfd, path.Join(parent, name), name)
}

// opaque removes everything lower layers put in the directory pfd (at
// rel), keeping what this layer wrote.
func (u *unpacker) opaque(pfd int, rel string) error {
	names, err := readDirNames(pfd)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := u.hide(pfd, path.Join(rel, name), name); err != nil {
			return err
		}
	}
	return nil
}

// hide removes name (at rel) from pfd unless this layer wrote it. Where this
// layer wrote inside a directory, only the lower layers' part of it goes.
func (u *unpacker) hide(pfd int, rel, name string) error {
	if _, ok := u.written[rel]; !ok {
		return fsutil.RemoveAt(pfd, name)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	fd, err := fsutil.OpenDirAt(pfd, name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := u.root.ensureWritable(fd, rel); err != nil {
		return err
	}
	return u.opaque(fd, rel)
}

// readDirNames lists the directory fd. It reads through a fresh open file
// description, so fd's own offset stays where it was.
func readDirNames(fd int) ([]string, error) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dfd), "")
	defer d.Close()
	return d.Readdirnames(-1)
}
