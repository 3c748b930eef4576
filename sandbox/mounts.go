package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// unavailableError marks setup failures that mean this machine cannot run
// the sandbox, as opposed to a mistake in the config.
type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

// devices are the host device nodes the sandbox's /dev shows. Binding them,
// rather than creating nodes, works in a user namespace.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks are the symlinks of a minimal /dev.
var devLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
	{"pts/ptmx", "ptmx"},
}

// bind is a mount tree cloned from the host before pivot_root and attached
// at target after it, so that target resolves inside the new root even
// through the stack's symlinks. For a Mount with Upper, overlay is set and
// the tree is that overlay, mounted rather than cloned.
type bind struct {
	fd       int
	source   string
	target   string
	dir      bool
	readOnly bool
	overlay  *mountConfig
}

// setup builds the sandbox's filesystem in the init and enters it.
func setup(ic initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := mountOverlay(ic); err != nil {
		return err
	}
	if ic.Probe {
		return probeOverlays(ic)
	}
	if err := mountProc(ic.Merged); err != nil {
		return err
	}
	binds, err := cloneBinds(ic)
	defer closeBinds(binds)
	if err != nil {
		return err
	}
	if err := pivot(ic.Merged); err != nil {
		return err
	}
	if err := populate(binds); err != nil {
		return err
	}
	if ic.Network == NetworkNone {
		return loopbackUp()
	}
	return nil
}

// mountOverlay mounts the stack with Upper on top at Merged. Paths go by
// /proc/self/fd so that no character in them needs escaping in the options.
// userxattr keeps overlay metadata (opaque directories) in user.* xattrs,
// which a user namespace may write; without it removing a directory of the
// stack fails with EIO. Kernels before 5.11 lack the option, and the plain
// mount is tried for those that patch in overlay support for namespaces.
func mountOverlay(ic initConfig) error {
	var fds [3]int
	for i, p := range []string{ic.Root, ic.Upper, ic.Work} {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s: %w", p, err)
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	opts := fmt.Sprintf("lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", fds[0], fds[1], fds[2])
	err := unix.Mount("overlay", ic.Merged, "overlay", 0, opts+",userxattr")
	if err != nil {
		err = unix.Mount("overlay", ic.Merged, "overlay", 0, opts)
	}
	if err != nil {
		return unavailableError{fmt.Errorf("the kernel refused an overlay mount of %s in a user namespace (needs Linux 5.11 or later): %w", ic.Root, err)}
	}
	return nil
}

// mountProc mounts a proc for the new pid namespace. It must happen before
// pivot_root: the kernel allows it only while a full proc is visible.
func mountProc(merged string) error {
	target := filepath.Join(merged, "proc")
	if err := mkdirNoFollow(target); err != nil {
		return err
	}
	if err := unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting proc: %w", err)
	}
	return nil
}

// mkdirNoFollow makes sure dir is a real directory, not a symlink that
// would lead the mount outside the stack.
func mkdirNoFollow(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.Mkdir(dir, 0o555)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s in the stack is not a directory", dir)
	}
	return nil
}

// cloneBinds clones every host tree the sandbox shows: devices, /sys, the
// host's name resolution files and the configured mounts, in the order they
// are attached.
func cloneBinds(ic initConfig) ([]bind, error) {
	var want []bind
	for _, d := range devices {
		want = append(want, bind{source: "/dev/" + d, target: "/dev/" + d})
	}
	want = append(want, bind{source: "/sys", target: "/sys", readOnly: true})
	if ic.Network == NetworkHost {
		want = append(want, hostFiles()...)
	}
	for i, m := range ic.Mounts {
		b := bind{source: m.Source, target: m.Target, readOnly: m.ReadOnly}
		if m.Upper != "" {
			b.overlay = &ic.Mounts[i]
		}
		want = append(want, b)
	}
	binds := make([]bind, 0, len(want))
	for _, b := range want {
		var err error
		if b.overlay != nil {
			b.fd, err = overlayTree(*b.overlay)
			b.dir = true
		} else {
			b, err = cloneTree(b)
		}
		if err != nil {
			return binds, err
		}
		binds = append(binds, b)
	}
	return binds, nil
}

// hostFiles are the host's /etc/resolv.conf and /etc/hosts, where they
// exist, so names resolve as on the host.
func hostFiles() []bind {
	var out []bind
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if _, err := os.Stat(f); err == nil {
			out = append(out, bind{source: f, target: f, readOnly: true})
		}
	}
	return out
}

// cloneTree clones the mount tree at b.source, with the mounts below it,
// into a detached mount.
func cloneTree(b bind) (bind, error) {
	src := b.source
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return b, fmt.Errorf("cloning mount of %s: %w", src, err)
	}
	b.fd = fd
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return b, fmt.Errorf("stat %s: %w", src, err)
	}
	b.dir = st.Mode&unix.S_IFMT == unix.S_IFDIR
	if b.readOnly {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return b, fmt.Errorf("making mount of %s read-only: %w", src, err)
		}
	}
	return b, nil
}

func closeBinds(binds []bind) {
	for _, b := range binds {
		unix.Close(b.fd)
	}
}

// pivot makes merged the root and detaches the host's root, so no host path
// stays reachable.
func pivot(merged string) error {
	if err := unix.Chdir(merged); err != nil {
		return fmt.Errorf("entering %s: %w", merged, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", merged, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	return unix.Chdir("/")
}

// populate mounts the sandbox's own filesystems and attaches binds, inside
// the new root. /tmp is a fresh tmpfs per command, capped at a quarter of
// the host's memory so that filling it cannot take all of it.
func populate(binds []bind) error {
	if err := mountDev(); err != nil {
		return err
	}
	if err := mountTmpfs("/tmp", "mode=1777,size=25%", unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return err
	}
	for _, b := range binds {
		if err := attach(b); err != nil {
			return err
		}
	}
	return nil
}

// mountDev mounts a minimal /dev: a tmpfs with links, a private devpts and
// shm; the device binds are attached later with the others.
func mountDev() error {
	// Sized tmpfs: /dev holds links and mount points only, and /dev/shm is
	// as large as Docker makes it, so neither can take the host's memory.
	if err := mountTmpfs("/dev", "mode=755,size=1m", unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
		return err
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[0], "/dev/"+l[1]); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", l[1], err)
		}
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return fmt.Errorf("creating /dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mounting /dev/pts: %w", err)
	}
	return mountTmpfs("/dev/shm", "mode=1777,size=64m", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

func mountTmpfs(target, opts string, flags uintptr) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", target, err)
	}
	if err := unix.Mount("tmpfs", target, "tmpfs", flags, opts); err != nil {
		return fmt.Errorf("mounting tmpfs on %s: %w", target, err)
	}
	return nil
}

// attach moves a cloned tree onto its target, creating a mount point of
// the right kind when the stack lacks one.
func attach(b bind) error {
	if err := mountPoint(b.target, b.dir); err != nil {
		return err
	}
	if err := unix.MoveMount(b.fd, "", unix.AT_FDCWD, b.target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting on %s: %w", b.target, err)
	}
	return nil
}

func mountPoint(target string, dir bool) error {
	if _, err := os.Stat(target); err == nil {
		return nil
	}
	if dir {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", target, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("creating mount point %s: %w", target, err)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating mount point %s: %w", target, err)
	}
	return f.Close()
}

// loopbackUp brings up lo in a new network namespace, where it starts down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}
