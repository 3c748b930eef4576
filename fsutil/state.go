package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// RacyWindow is longer than the coarsest timestamp tick of the
// filesystems paas meets (one second, and two on FAT): a file's times
// tell a change from the time it was looked at only once they are this
// much older.
const RacyWindow = 3 * time.Second

// StateDigest hashes what the tree at root holds as it stands, reading
// almost no file: each entry's path, type, mode, owner, size, inode, link
// target, and modification and change times, in lexical order; and the
// content of the regular files whose times are at or after since. Entries
// skip matches are left out with everything under them.
//
// Equal digests mean an unchanged tree, the way git's index decides it:
// writing a file changes its change time (ctime), which no one but the
// kernel sets, so a file rewritten with the same size and forged
// modification time still differs. The one gap is a file written twice
// within one timestamp tick, the second time after it was looked at. So
// the first digest is taken with since = RacyWindow before now, and every
// later one that is compared with it with the same since: a file changed
// within a tick of the first look had its content hashed then and has it
// hashed again, and a file changed later has later times.
func StateDigest(root string, skip func(rel string, isDir bool) bool, since time.Time) (string, error) {
	w := stateWalker{h: sha256.New(), racy: since.UnixNano()}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return w.add(p, rel)
	})
	if err != nil {
		return "", fmt.Errorf("reading the state of %s: %w", root, err)
	}
	return "sha256:" + hex.EncodeToString(w.h.Sum(nil)), nil
}

type stateWalker struct {
	h    hash.Hash
	racy int64 // ns since the epoch; times at or after it are too recent to trust
}

func (w *stateWalker) add(p, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	fmt.Fprintf(w.h, "%q %o %d:%d %d %d %d %d\n", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Ino,
		st.Mtim.Nano(), st.Ctim.Nano())
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w.h, "-> %q\n", target)
	case unix.S_IFREG:
		if st.Mtim.Nano() >= w.racy || st.Ctim.Nano() >= w.racy {
			return w.content(p)
		}
	}
	return nil
}

// content hashes a file's bytes into the digest.
func (w *stateWalker) content(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	fmt.Fprintf(w.h, "= %x\n", h.Sum(nil))
	return nil
}
