package stacks

// This file unpacks OCI layer tar streams into a directory. The layers
// package is meant to own this (layers.Unpack); it is unexported here so the
// two can be swapped.
//
// Every path is resolved with openat2(RESOLVE_IN_ROOT) against the target
// directory, so symlinks inside the tree, absolute or relative, resolve as
// they would inside the sandbox and can never lead outside it. Only the last
// component is then created or removed with the *at system calls, which do
// not follow it.

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OCI whiteout names: .wh.NAME deletes NAME from lower layers, and the opaque
// marker in a directory deletes all of its lower-layer children.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// dirMeta is what a directory gets once all layers are unpacked: applying a
// read-only mode earlier would stop later entries from being written in it.
type dirMeta struct {
	mode  uint32
	mtime time.Time
}

// unpacker applies layers in order to one directory.
type unpacker struct {
	root *os.File
	dirs map[string]dirMeta  // by cleaned name, "." for the root
	seen map[string]struct{} // names the current layer wrote, with their parents
	buf  []byte
}

func newUnpacker(dir string) (*unpacker, error) {
	root, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &unpacker{
		root: root,
		dirs: map[string]dirMeta{".": {mode: 0o755, mtime: time.Unix(sourceDateEpoch(), 0)}},
		buf:  make([]byte, 1<<20),
	}, nil
}

func (u *unpacker) close() error { return u.root.Close() }

// layer unpacks one uncompressed layer tar stream.
func (u *unpacker) layer(ctx context.Context, r io.Reader) error {
	u.seen = map[string]struct{}{}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
}

// cleanName turns a tar entry name into a path relative to the root, "." for
// the root itself; ".." cannot climb above the root.
func cleanName(name string) string {
	p := path.Clean("/" + name)
	if p == "/" {
		return "."
	}
	return p[1:]
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	name := cleanName(hdr.Name)
	dir, base := path.Dir(name), path.Base(name)
	switch {
	case base == opaqueMarker:
		return u.opaque(dir)
	case strings.HasPrefix(base, whiteoutPrefix):
		return u.whiteout(path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
	case name == ".":
		if hdr.Typeflag == tar.TypeDir {
			u.dirs["."] = dirMeta{mode: uint32(hdr.Mode) & 0o7777, mtime: hdr.ModTime}
		}
		return nil
	}
	u.markSeen(name)
	pfd, err := u.parent(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return u.create(pfd, name, base, hdr, r)
}

// markSeen records name and its parents as written by the current layer, so
// an opaque marker in the same layer does not delete them.
func (u *unpacker) markSeen(name string) {
	for ; name != "."; name = path.Dir(name) {
		if _, ok := u.seen[name]; ok {
			return
		}
		u.seen[name] = struct{}{}
	}
}

func (u *unpacker) create(pfd int, name, base string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.mkdir(pfd, name, base, hdr)
	case tar.TypeReg:
		return u.writeFile(pfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		return setMtime(pfd, base, hdr.ModTime)
	case tar.TypeLink:
		return u.hardlink(pfd, base, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return mknod(pfd, base, hdr)
	}
	return nil // pax and GNU metadata entries carry nothing to create
}

func (u *unpacker) mkdir(pfd int, name, base string, hdr *tar.Header) error {
	u.dirs[name] = dirMeta{mode: uint32(hdr.Mode) & 0o7777, mtime: hdr.ModTime}
	err := unix.Mkdirat(pfd, base, 0o755)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	return unix.Mkdirat(pfd, base, 0o755)
}

// writeFile creates a regular file. Set-user-ID and set-group-ID bits are
// dropped: the tree belongs to the caller, who may be root, and a set-ID
// binary reachable on the host would hand the caller's identity to anyone;
// inside the sandbox buildpacks run as root and need no set-ID programs.
func (u *unpacker) writeFile(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	if _, err := io.CopyBuffer(f, r, u.buf); err != nil {
		f.Close()
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o1777); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return setMtime(pfd, base, hdr.ModTime)
}

func (u *unpacker) hardlink(pfd int, base, linkname string) error {
	target := cleanName(linkname)
	tfd, err := u.resolve(path.Dir(target), unix.O_PATH)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", linkname, err)
	}
	defer unix.Close(tfd)
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	return unix.Linkat(tfd, path.Base(target), pfd, base, 0)
}

// mknod creates device nodes and fifos, skipping them when the caller may
// not (device nodes need real root). Device nodes are made accessible to
// their owner only, so a stack cannot expose a host device to other users.
func mknod(pfd int, base string, hdr *tar.Header) error {
	perm := uint32(hdr.Mode) & 0o777
	var kind uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		kind, perm = unix.S_IFCHR, perm&0o600
	case tar.TypeBlock:
		kind, perm = unix.S_IFBLK, perm&0o600
	default:
		kind = unix.S_IFIFO
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := unix.Mknodat(pfd, base, kind|perm, dev)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := unix.Fchmodat(pfd, base, perm, 0); err != nil { // mknod honours the umask
		return err
	}
	return setMtime(pfd, base, hdr.ModTime)
}

func (u *unpacker) whiteout(name string) error {
	pfd, err := u.resolve(path.Dir(name), unix.O_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing below to hide
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	u.forgetDirs(name)
	return removeAt(pfd, path.Base(name))
}

// opaque empties dir of everything the current layer did not write.
func (u *unpacker) opaque(dir string) error {
	u.markSeen(dir)
	fd, err := u.resolve(dir, unix.O_RDONLY)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		child := path.Join(dir, n)
		if _, ok := u.seen[child]; ok {
			continue
		}
		u.forgetDirs(child)
		if err := removeAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}

// forgetDirs drops the pending modes of name and everything under it.
func (u *unpacker) forgetDirs(name string) {
	for d := range u.dirs {
		if d == name || strings.HasPrefix(d, name+"/") {
			delete(u.dirs, d)
		}
	}
}

// resolve opens name (a directory) inside the root.
func (u *unpacker) resolve(name string, flags uint64) (int, error) {
	how := &unix.OpenHow{
		Flags:   flags | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(int(u.root.Fd()), name, how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // the kernel asks for a retry after a concurrent rename
		}
		return fd, err
	}
}

// parent opens dir for creating entries in it, creating missing directories
// on the way like tar does.
func (u *unpacker) parent(dir string) (int, error) {
	fd, err := u.resolve(dir, unix.O_PATH)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if err := u.mkdirAll(dir); err != nil {
		return -1, err
	}
	return u.resolve(dir, unix.O_PATH)
}

// maxLinkDepth bounds directories created through chains of dangling
// symlinks, as the kernel's own limit on symlink resolution (ELOOP) does.
const maxLinkDepth = 40

func (u *unpacker) mkdirAll(dir string) error { return u.mkdirAllDepth(dir, 0) }

// mkdirAllDepth creates dir and its missing parents. A dangling symlink on
// the way gets its target created, inside the root, as tar and container
// runtimes do when a layer writes through it.
func (u *unpacker) mkdirAllDepth(dir string, depth int) error {
	if depth > maxLinkDepth {
		return unix.ELOOP
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := u.resolve(prefix, unix.O_PATH)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		if err := u.mkdirOne(prefix, depth); err != nil {
			return fmt.Errorf("creating %s: %w", prefix, err)
		}
	}
	return nil
}

// mkdirOne creates the directory prefix, whose parent exists.
func (u *unpacker) mkdirOne(prefix string, depth int) error {
	pfd, err := u.resolve(path.Dir(prefix), unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	base := path.Base(prefix)
	err = unix.Mkdirat(pfd, base, 0o755)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	target, err := readlinkAt(pfd, base)
	if err != nil {
		return err
	}
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(prefix), target)
	}
	return u.mkdirAllDepth(cleanName(target), depth+1)
}

func readlinkAt(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// finish applies directory modes and times, deepest first so that a
// read-only parent never blocks its children. Every directory keeps at least
// owner read and search permission so the tree stays readable and removable.
func (u *unpacker) finish() error {
	names := make([]string, 0, len(u.dirs))
	for n := range u.dirs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		di, dj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if di != dj {
			return di > dj
		}
		return names[i] > names[j]
	})
	for _, n := range names {
		if n == "." {
			continue
		}
		if err := u.applyDir(n, u.dirs[n]); err != nil {
			return fmt.Errorf("setting mode of %s: %w", n, err)
		}
	}
	root := u.dirs["."]
	if err := unix.Fchmod(int(u.root.Fd()), root.mode|0o500); err != nil {
		return fmt.Errorf("setting mode of root: %w", err)
	}
	return setMtime(int(u.root.Fd()), ".", root.mtime)
}

func (u *unpacker) applyDir(name string, m dirMeta) error {
	pfd, err := u.resolve(path.Dir(name), unix.O_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // replaced by a later layer
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	base := path.Base(name)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	if err := unix.Fchmodat(pfd, base, m.mode|0o500, 0); err != nil {
		return err
	}
	return setMtime(pfd, base, m.mtime)
}

func setMtime(dirfd int, name string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(dirfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// removeAt removes name in dirfd, a whole tree if it is a directory, and
// succeeds when there is nothing to remove.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	children, err := f.Readdirnames(-1)
	for _, c := range children {
		if err == nil {
			err = removeAt(fd, c)
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}
