package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fault"
)

// ErrNoOverlay reports that this machine refused a Mount with Upper:
// overlayfs in a user namespace with user.* xattrs (Linux 5.11), Upper's
// filesystem holding whiteouts and user xattrs, and for root callers an
// id-mapped mount of Source's filesystem (Linux 5.12; ext4, xfs, btrfs and
// tmpfs have them, NFS and overlayfs do not) are needed. Callers bind a copy
// instead.
var ErrNoOverlay = fault.New(fault.Sandbox, "overlay of a host directory refused")

// mountConfig is a Mount as the init gets it, with the directories of an
// overlay spelled out, since their paths travel as descriptors like the
// others (see hostPaths): Work is overlayfs's work directory and, for root
// callers, Lower is where the init attaches the id-mapped mount of Source
// that is the overlay's lower layer.
type mountConfig struct {
	Mount
	Work  string `json:",omitempty"`
	Lower string `json:",omitempty"`
}

// hostPaths lists m's host paths, in the order their descriptors travel.
func (m *mountConfig) hostPaths() []pathRef {
	if m.Upper == "" {
		return []pathRef{{path: &m.Source}}
	}
	refs := []pathRef{{path: &m.Source, idmap: m.Lower != ""}, {path: &m.Upper}, {path: &m.Work}}
	if m.Lower != "" {
		refs = append(refs, pathRef{path: &m.Lower, parent: true})
	}
	return refs
}

// mountConfigs prepares mounts for the init: it creates, for root inside,
// the directories each overlay needs besides Upper, in Upper+".work".
func (m idMap) mountConfigs(mounts []Mount) ([]mountConfig, error) {
	out := make([]mountConfig, len(mounts))
	for i, mt := range mounts {
		out[i] = mountConfig{Mount: mt}
		if mt.Upper == "" {
			continue
		}
		dir := filepath.Clean(mt.Upper) + ".work"
		out[i].Work = filepath.Join(dir, "work")
		dirs := []string{dir, out[i].Work}
		if m.shifted() {
			out[i].Lower = filepath.Join(dir, "lower")
			dirs = append(dirs, out[i].Lower)
		}
		for _, d := range dirs {
			if err := m.mkdirOwned(d); err != nil {
				return nil, fmt.Errorf("creating overlay directory: %w", err)
			}
		}
	}
	return out, nil
}

// MappedOwners returns a test of whether a file of a Mount's Source, owned
// on the host by uid and gid, shows inside with an owner and group that the
// sandbox maps (New's mapping, as now). Only such files can be changed
// through the overlay of a Mount with Upper: copying a file up keeps its
// owners, which must exist inside.
func MappedOwners() func(uid, gid int) bool {
	m := detectIDMap()
	if m.shifted() {
		// Source is id-mapped: host id N shows as inside id N.
		nu, ng := m.size(0), m.size(1)
		return func(uid, gid int) bool { return uid >= 0 && uid < nu && gid >= 0 && gid < ng }
	}
	return func(uid, gid int) bool { return m.mapped(0, uid) && m.mapped(1, gid) }
}

// Overlay is the merged tree of a Mount with Upper, as the sandbox's
// commands left it, open for this process to read.
type Overlay struct {
	f *os.File
}

// OpenOverlay mounts m, a Mount with Upper, the way New's sandboxes do, and
// returns the merged tree for the caller to read on the host, such as a
// build's results in a working copy: what the commands changed (in Upper)
// over what they did not (Source, less what whiteouts hide). The tree stays
// readable, with the caller's own permissions, until Close, and no longer
// than this process. It starts a sandbox init, so Reexec must have been
// called. Open it after the last Run that changes Upper: a view does not
// see later changes.
func OpenOverlay(m Mount) (*Overlay, error) {
	return openOverlayWithIDs(m, detectIDMap())
}

// openOverlayWithIDs is OpenOverlay with a given id mapping, for tests.
func openOverlayWithIDs(m Mount, ids idMap) (*Overlay, error) {
	if err := checkReexec(); err != nil {
		return nil, err
	}
	if m.Upper == "" {
		return nil, fmt.Errorf("overlay of %s: no Upper", m.Source)
	}
	mounts, err := checkMounts([]Mount{m})
	if err != nil {
		return nil, err
	}
	cfgs, err := ids.mountConfigs(mounts)
	if err != nil {
		return nil, err
	}
	ic := initConfig{View: true, Mounts: cfgs, MapLater: ids.external()}
	_, fds, err := runInitFDs(context.Background(), ids, ic, nil)
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		closeFDs(fds)
		return nil, fmt.Errorf("%w: overlay of %s: the sandbox init sent %d descriptors, want 1", ErrNoOverlay, m.Source, len(fds))
	}
	return &Overlay{f: os.NewFile(uintptr(fds[0]), "overlay of "+m.Source)}, nil
}

// Dir is a path to the merged tree that this process, and only it, can use
// until Close: /proc/self/fd/N.
func (o *Overlay) Dir() string { return fmt.Sprintf("/proc/self/fd/%d", o.f.Fd()) }

// Close unmounts the merged tree (lazily: files still open stay readable).
func (o *Overlay) Close() error { return o.f.Close() }

// idmappedTree returns a detached, read-only mount of the host directory
// dir whose ids show as the user namespace of the init pid maps them, so
// that a root caller's files (host id N) show inside as id N, not as
// nobody. Only the caller, root of the host's user namespace, may make it;
// the init attaches it in its own mount namespace (see overlayTree).
func idmappedTree(pid int, dir string) (int, error) {
	ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the sandbox's user namespace: %w", err)
	}
	defer unix.Close(ns)
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("%w: cloning the mount of %s: %w", ErrNoOverlay, dir, err)
	}
	attr := &unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
		Userns_fd: uint64(ns),
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%w: id-mapping the mount of %s (its filesystem may not support id-mapped mounts): %w", ErrNoOverlay, dir, err)
	}
	return fd, nil
}

// overlayTree mounts the overlay of m, detached, and returns its
// descriptor, in the init. An id-mapped Source (root callers) is attached
// at Lower first: overlayfs takes layers from the mounter's own mount
// namespace only. Every path is given to overlayfs as /proc/self/fd/N,
// which needs no escaping.
func overlayTree(m mountConfig) (int, error) {
	lower := m.Source
	if m.Lower != "" {
		err := unix.MoveMount(unix.AT_FDCWD, m.Source, unix.AT_FDCWD, m.Lower, unix.MOVE_MOUNT_F_SYMLINKS)
		if err != nil {
			return -1, fmt.Errorf("%w: attaching the id-mapped %s: %w", ErrNoOverlay, m.Source, err)
		}
		lower = m.Lower
	}
	var fds [3]int
	for i, p := range []string{lower, m.Upper, m.Work} {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("opening %s: %w", p, err)
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("%w: %w", ErrNoOverlay, err)
	}
	defer unix.Close(fs)
	for i, key := range []string{"lowerdir", "upperdir", "workdir"} {
		if err := unix.FsconfigSetString(fs, key, fmt.Sprintf("/proc/self/fd/%d", fds[i])); err != nil {
			return -1, fmt.Errorf("%w: overlay %s of %s: %w", ErrNoOverlay, key, m.Source, err)
		}
	}
	// userxattr: overlayfs keeps its metadata (opaque directories) in
	// user.* xattrs, which a user namespace may write.
	if err := unix.FsconfigSetFlag(fs, "userxattr"); err != nil {
		return -1, fmt.Errorf("%w: overlay of %s (needs Linux 5.11 or later): %w", ErrNoOverlay, m.Source, err)
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("%w: the kernel refused an overlay of %s in a user namespace: %w", ErrNoOverlay, m.Source, err)
	}
	attrs := unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	if m.ReadOnly {
		attrs |= unix.MOUNT_ATTR_RDONLY
	}
	fd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("%w: mounting the overlay of %s: %w", ErrNoOverlay, m.Source, err)
	}
	return fd, nil
}

// probeOverlays mounts every overlay of ic and lets them go again, so that
// New fails early, with ErrNoOverlay, where they are refused.
func probeOverlays(ic initConfig) error {
	for _, m := range ic.Mounts {
		if m.Upper == "" {
			continue
		}
		fd, err := overlayTree(m)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	return nil
}

// viewReport mounts the overlay of ic.Mounts[0] and sends it to the parent
// on the lifeline (see OpenOverlay). The mount outlives the init.
func viewReport(ic initConfig) report {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return errorReport(fmt.Errorf("making mounts private: %w", err))
	}
	if len(ic.Mounts) != 1 || ic.Mounts[0].Upper == "" {
		return report{Error: "view: want one overlay mount"}
	}
	fd, err := overlayTree(ic.Mounts[0])
	if err != nil {
		return errorReport(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendmsg(lifelineFD, []byte{1}, unix.UnixRights(fd), nil, 0); err != nil {
		return errorReport(fmt.Errorf("sending the overlay: %w", err))
	}
	return report{}
}
