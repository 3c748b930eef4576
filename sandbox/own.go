package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Own gives root inside the sandbox the tree at path, as New's id mapping
// makes it: every file and directory owned by a host id that the mapping
// lacks gets root inside's host ids, and files already owned by mapped ids
// (what sandboxed commands made) keep their owners. Callers use it on what
// they create for a sandbox to write, such as the directories they mount in.
//
// Only root callers need it: their mapping puts root inside at an
// unprivileged host id, so what root made on the host is nobody's inside
// and cannot be written there. For ordinary users root inside is the user
// and Own changes nothing. Symbolic links are changed themselves, never
// followed.
func Own(path string) error {
	return detectIDMap().own(path)
}

// own is Own for the mapping m.
func (m idMap) own(path string) error {
	if !m.shifted() {
		return nil
	}
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return m.ownOne(p)
	})
	if err != nil {
		return fmt.Errorf("giving %s to root inside the sandbox: %w", path, err)
	}
	return nil
}

// shifted reports whether root inside is another host user than the
// caller, so that what the caller creates must be given to it.
func (m idMap) shifted() bool {
	uid, gid := m.rootHost()
	return uid != os.Getuid() || gid != os.Getgid()
}

// ownOne gives p (not followed) to root inside unless its owner and group
// are mapped already. Giving a file away clears its set-ID bits, so a
// file's mode is put back after.
func (m idMap) ownOne(p string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return err
	}
	uid, gid := int(st.Uid), int(st.Gid)
	rootUID, rootGID := m.rootHost()
	if !m.mapped(0, uid) {
		uid = rootUID
	}
	if !m.mapped(1, gid) {
		gid = rootGID
	}
	if uid == int(st.Uid) && gid == int(st.Gid) {
		return nil
	}
	if err := os.Lchown(p, uid, gid); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK || st.Mode&(syscall.S_ISUID|syscall.S_ISGID) == 0 {
		return nil
	}
	return os.Chmod(p, fs.FileMode(st.Mode&0o777)|goSetID(st.Mode))
}

// goSetID converts the set-ID and sticky bits of a stat mode to fs bits.
func goSetID(mode uint32) fs.FileMode {
	var m fs.FileMode
	if mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// mkdirOwned creates dir and its missing parents like os.MkdirAll, then
// gives dir itself (not its contents) to root inside.
func (m idMap) mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !m.shifted() {
		return nil
	}
	if err := m.ownOne(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("giving %s to root inside the sandbox: %w", dir, err)
	}
	return nil
}
