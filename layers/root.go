package layers

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// root is a directory that unpacking confines itself to. Every path is
// resolved with openat2(RESOLVE_IN_ROOT), so "..", absolute paths and
// symlinks (even absolute ones) all resolve inside it, the way they would
// once the directory is a container's root.
type root struct {
	fd int
	// dirs holds the final mode and mtime of every directory that was
	// created, named by the tar, or opened up for writing; they are applied
	// after all content is in place, so read-only directories can be filled.
	dirs map[fileID]*dirMeta
}

// dirMeta is what a directory gets once unpacking is done.
type dirMeta struct {
	rel   string
	mode  uint32
	mtime *time.Time // nil keeps whatever the kernel left
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	return &root{fd: fd, dirs: map[fileID]*dirMeta{}}, nil
}

// cleanRel maps any tar name onto a clean path relative to the root: ".."
// cannot climb above it and absolute names become relative. "" is the root.
func cleanRel(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// splitRel splits a clean relative path into its parent and last element.
func splitRel(rel string) (parent, base string) {
	parent, base = path.Split(rel)
	return strings.TrimSuffix(parent, "/"), base
}

// openDir opens the directory rel for reading, resolving every symlink on
// the way inside the root.
func (r *root) openDir(rel string) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, how)
		// EAGAIN: a concurrent rename made the kernel give up; try again.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// mkdirAll opens the directory rel, creating it and its missing parents with
// mode 0755.
func (r *root) mkdirAll(rel string) (int, error) {
	fd, err := r.openDir(rel)
	if !errors.Is(err, unix.ENOENT) || rel == "" {
		return fd, err
	}
	parent, base := splitRel(rel)
	pfd, err := r.mkdirAll(parent)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	if err := r.ensureWritable(pfd, parent); err != nil {
		return -1, err
	}
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return r.openDir(rel)
}

// ensureWritable gives the owner rwx on the directory fd (at rel) so entries
// can be created in it, remembering its mode to restore it in finish.
func (r *root) ensureWritable(fd int, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&0o700 == 0o700 {
		return nil
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	if _, ok := r.dirs[id]; !ok {
		r.dirs[id] = &dirMeta{rel: rel, mode: st.Mode & 0o7777}
	}
	return unix.Fchmod(fd, st.Mode&0o7777|0o700)
}

// setDir records a directory's final mode and mtime.
func (r *root) setDir(fd int, rel string, mode uint32, mtime time.Time) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	r.dirs[fileID{dev: st.Dev, ino: st.Ino}] = &dirMeta{rel: rel, mode: mode, mtime: &mtime}
	return nil
}

// finish applies the recorded directory modes and mtimes, deepest first,
// skipping directories that were replaced since they were recorded.
func (r *root) finish() error {
	metas := make([]*dirMeta, 0, len(r.dirs))
	for _, m := range r.dirs {
		metas = append(metas, m)
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].rel > metas[j].rel })
	var errs []error
	for _, m := range metas {
		if err := r.applyDir(m); err != nil {
			errs = append(errs, fmt.Errorf("setting mode of %s: %w", m.rel, err))
		}
	}
	return errors.Join(errs...)
}

func (r *root) applyDir(m *dirMeta) error {
	fd, err := r.openDir(m.rel)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if r.dirs[fileID{dev: st.Dev, ino: st.Ino}] != m {
		return nil // replaced by another directory
	}
	if m.mtime != nil {
		if err := futimens(fd, *m.mtime); err != nil {
			return err
		}
	}
	return unix.Fchmod(fd, m.mode)
}

func (r *root) close() error { return unix.Close(r.fd) }

// futimens sets the atime and mtime of the open file fd to t. It calls
// utimensat with a NULL path, which needs neither /proc nor a name.
func futimens(fd int, t time.Time) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
