package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// OCI whiteout names: ".wh.NAME" deletes NAME from the layers below, and a
// directory holding ".wh..wh..opq" hides everything the layers below put in it.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// Unpack extracts the uncompressed layer tar r into dir, on top of whatever
// lower layers are already there: later entries replace earlier files, and
// OCI whiteouts remove lower ones. It is paas's only archive extractor, for
// stack and image layers, buildpack archives and imported OCI archives
// alike, and applies one policy to all of them (SPEC.md, "Extracting
// archives"):
//
//   - Every path is confined to dir: ".." and absolute names are taken
//     relative to dir, and symlinks (in parents and hard link targets) are
//     resolved as if dir were the root, so a link to /etc leads to dir/etc.
//   - Whiteouts remove only inside dir; one naming "", "." or ".." fails
//     with ErrUnsafeEntry.
//   - Set-user-ID bits, and set-group-ID bits on files, are dropped.
//     Device nodes are skipped.
//   - File content and entries are capped (WithMaxSize, WithMaxEntries);
//     going over fails with ErrLimit before anything is written.
//   - All-zero chunks, a sparse file's holes among them, are left as holes,
//     so a sparse bomb costs no disk.
//   - WithContext interrupts it between chunks; WithDiffID checks the
//     stream's DiffID.
//
// Files get the tar's modes and mtimes. Unless WithOwners says otherwise
// they are never chowned: they belong to the caller, which is what a
// rootless sandbox maps to root. Directories are made writable while filled
// and get their modes (without WithOwners always with owner r and x, so the
// tree stays traversable) and mtimes at the end; use fsutil.RemoveAll to delete
// such a tree. File contents are streamed, never held in memory.
func Unpack(r io.Reader, dir string, opts ...UnpackOption) (retErr error) {
	o, err := makeUnpackOptions(opts)
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	rt, err := openRoot(dir)
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	defer rt.close()
	defer func() {
		if err := rt.finish(); err != nil && retErr == nil {
			retErr = fmt.Errorf("unpacking layer into %s: %w", dir, err)
		}
	}()
	u := &unpacker{root: rt, opts: o, written: map[string]struct{}{}, buf: make([]byte, copyBufSize)}
	if o.diffID == nil {
		return u.entries(r)
	}
	vr, err := VerifyDiffID(r, *o.diffID)
	if err != nil {
		return err
	}
	if err := u.entries(vr); err != nil {
		return err
	}
	return vr.Verify()
}

// unpacker applies one layer's entries to a root.
type unpacker struct {
	root *root
	opts *unpackOptions
	// written holds the paths this layer created and their parents.
	// Whiteouts only hide what lower layers put there, never the layer's
	// own entries, whichever order the tar lists them in.
	written map[string]struct{}
	buf     []byte // copy buffer shared by all files
	// size and count are what the layer has used of its limits.
	size, count int64
}

// entries applies every entry of the tar stream r.
func (u *unpacker) entries(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := u.opts.ctx.Err(); err != nil {
			return fmt.Errorf("unpacking layer: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		// Non-local names are fine: entry confines every path to dir.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("reading layer: %w", err)
		}
		if err := u.charge(hdr); err != nil {
			return fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
}

// charge counts hdr against the entry and size limits before anything of
// it is written.
func (u *unpacker) charge(hdr *tar.Header) error {
	u.count++
	if u.count > u.opts.maxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, u.opts.maxEntries)
	}
	if !isRegular(hdr.Typeflag) {
		return nil
	}
	if hdr.Size > u.opts.maxSize-u.size {
		return fmt.Errorf("%w: %d bytes of files would pass the cap of %d bytes", ErrLimit, u.size+hdr.Size, u.opts.maxSize)
	}
	u.size += hdr.Size
	return nil
}

func isRegular(typ byte) bool {
	return typ == tar.TypeReg || typ == tar.TypeCont || typ == tar.TypeGNUSparse
}

// entry applies one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel := cleanRel(hdr.Name)
	if rel == "" || hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // the root itself belongs to the caller
	}
	parent, base := splitRel(rel)
	if strings.HasPrefix(base, whiteoutPrefix) && !u.opts.tree {
		return u.whiteout(parent, base)
	}
	pfd, err := u.root.mkdirAll(parent)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := u.root.ensureWritable(pfd, parent); err != nil {
		return err
	}
	created, err := u.create(pfd, rel, base, hdr, r)
	if created && !u.opts.tree {
		u.mark(rel)
	}
	return err
}

// mark records that this layer wrote rel, and so touched its parents.
func (u *unpacker) mark(rel string) {
	for p := rel; p != ""; p, _ = splitRel(p) {
		if _, ok := u.written[p]; ok && p != rel {
			return // and so are all of p's parents
		}
		u.written[p] = struct{}{}
	}
}

// create makes the file base in directory pfd and reports whether it did.
func (u *unpacker) create(pfd int, rel, base string, hdr *tar.Header, r io.Reader) (bool, error) {
	m := u.opts.owners.meta(hdr)
	switch hdr.Typeflag {
	case tar.TypeDir:
		return true, u.mkdir(pfd, rel, base, m)
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return true, u.writeRegular(pfd, base, m, r)
	case tar.TypeSymlink:
		return true, symlink(pfd, base, hdr.Linkname, m)
	case tar.TypeLink:
		return true, u.hardlink(pfd, rel, base, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return false, nil // the sandbox's /dev is its own
	case tar.TypeFifo:
		return mkfifo(pfd, base, m)
	}
	return false, fmt.Errorf("type %q: %w", hdr.Typeflag, ErrUnsupportedType)
}

// replace clears the way for a new entry base in pfd: an existing directory
// is kept when keepDir is set and removed with its contents otherwise; any
// other file is removed. It reports whether a directory was kept.
func replace(pfd int, base string, keepDir bool) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && keepDir {
		return true, nil
	}
	return false, fsutil.RemoveAt(pfd, base)
}

// mkdir makes (or keeps) directory base, gives it its owner and records its
// final mode and mtime. It starts out owner-only so it can be filled
// whatever its mode.
func (u *unpacker) mkdir(pfd int, rel, base string, m meta) error {
	kept, err := replace(pfd, base, true)
	if err != nil {
		return err
	}
	if !kept {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return err
		}
	}
	fd, err := fsutil.OpenDirAt(pfd, base)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := m.chown(fd); err != nil {
		return err
	}
	mode := m.mode
	if u.opts.owners == nil && !u.opts.tree {
		mode |= 0o500 // the caller owns the tree and must be able to walk it
	}
	return u.root.setDir(fd, rel, mode, m.mtime)
}

// writeRegular streams r into a new file base in pfd.
func (u *unpacker) writeRegular(pfd int, base string, m meta, r io.Reader) error {
	if _, err := replace(pfd, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if err := copySparse(u.opts.ctx, f, r, u.buf); err != nil {
		return err
	}
	// chown clears setuid and setgid bits, so the mode comes after it.
	if err := m.chown(fd); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, m.mode); err != nil {
		return err
	}
	if err := futimens(fd, m.mtime); err != nil {
		return err
	}
	return f.Close()
}

// copyBufSize is the unit in which copySparse reads and looks for holes.
const copyBufSize = 128 << 10

// zeros is compared against to find all-zero chunks.
var zeros = make([]byte, copyBufSize)

// copySparse copies r into the empty file f, leaving all-zero chunks as
// holes. A tar's sparse entries are read back as zeros (archive/tar does
// not expose their holes), so without this a tiny tar could make Unpack
// write terabytes of zeros to disk. ctx is checked before every chunk.
func copySparse(ctx context.Context, f *os.File, r io.Reader, buf []byte) error {
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 && !bytes.Equal(buf[:n], zeros[:n]) {
			if _, werr := f.WriteAt(buf[:n], off); werr != nil {
				return werr
			}
		}
		off += int64(n)
		if err == io.EOF {
			return f.Truncate(off) // gives a trailing hole its length
		}
		if err != nil {
			return err
		}
	}
}

// symlink makes a symlink base in pfd with its target kept verbatim.
func symlink(pfd int, base, target string, m meta) error {
	if _, err := replace(pfd, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, pfd, base); err != nil {
		return err
	}
	return m.setAt(pfd, base)
}

// hardlink links base in pfd to the file the tar names target, which is
// resolved inside the root like any other path. A symlink target is linked
// itself, not followed.
func (u *unpacker) hardlink(pfd int, rel, base, target string) error {
	trel := cleanRel(target)
	if trel == rel {
		return nil
	}
	tparent, tbase := splitRel(trel)
	if tbase == "" {
		return fmt.Errorf("hard link to the root: %w", unix.EPERM)
	}
	tfd, err := u.root.openDir(tparent)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	if _, err := replace(pfd, base, false); err != nil {
		return err
	}
	return unix.Linkat(tfd, tbase, pfd, base, 0)
}

// mkfifo makes a fifo, skipping it where the file system refuses one.
func mkfifo(pfd int, base string, m meta) (bool, error) {
	if _, err := replace(pfd, base, false); err != nil {
		return false, err
	}
	err := unix.Mknodat(pfd, base, m.mode|unix.S_IFIFO, 0)
	if errors.Is(err, unix.EPERM) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// mknod honours the umask; the fifo was just made, so fchmodat has no
	// symlink to follow.
	if err := unix.Fchmodat(pfd, base, m.mode, 0); err != nil {
		return false, err
	}
	return true, m.setAt(pfd, base)
}
