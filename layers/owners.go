package layers

import (
	"archive/tar"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// UnpackOption configures Unpack.
type UnpackOption func(*unpackOptions) error

type unpackOptions struct {
	owners *owners // nil: never chown
}

func makeUnpackOptions(opts []UnpackOption) (*unpackOptions, error) {
	o := &unpackOptions{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithOwners makes Unpack give every entry the tar's numeric owner (user
// and group names are ignored) where it can: uids below uids and gids below
// gids, the ids a user namespace maps, say. An id outside that range leaves
// the entry the caller's, and takes away its setuid (setgid) bit so that no
// file gains a privileged owner the tar did not give it. Directories get
// exactly the tar's mode: a caller that may chown needs no owner bits to
// walk the tree. The caller must be allowed to chown to those ids, as root
// is, or root in a user namespace that maps them.
func WithOwners(uids, gids int) UnpackOption {
	return func(o *unpackOptions) error {
		if uids < 0 || gids < 0 {
			return fmt.Errorf("owner ranges %d, %d: %w", uids, gids, ErrInvalidOption)
		}
		o.owners = &owners{uids: uids, gids: gids}
		return nil
	}
}

// owners is the range of ids WithOwners may give.
type owners struct{ uids, gids int }

// meta is what an entry gets besides its content: uid and gid are -1 where
// the caller's are kept.
type meta struct {
	mode     uint32
	uid, gid int
	mtime    time.Time
}

// meta returns what the entry hdr gets; for a nil o, the caller owns it.
func (o *owners) meta(hdr *tar.Header) meta {
	m := meta{mode: uint32(hdr.Mode) & 0o7777, uid: -1, gid: -1, mtime: hdr.ModTime}
	if o == nil {
		return m
	}
	if hdr.Uid >= 0 && hdr.Uid < o.uids {
		m.uid = hdr.Uid
	} else {
		m.mode &^= unix.S_ISUID
	}
	if hdr.Gid >= 0 && hdr.Gid < o.gids {
		m.gid = hdr.Gid
	} else {
		m.mode &^= unix.S_ISGID
	}
	return m
}

// chown gives the open file fd its owner.
func (m meta) chown(fd int) error {
	if m.uid < 0 && m.gid < 0 {
		return nil
	}
	return unix.Fchown(fd, m.uid, m.gid)
}

// setAt gives base in pfd (never followed: a symlink is changed itself) its
// owner and mtime, for entries that cannot be opened.
func (m meta) setAt(pfd int, base string) error {
	if m.uid >= 0 || m.gid >= 0 {
		if err := unix.Fchownat(pfd, base, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(m.mtime.UnixNano())
	return unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
