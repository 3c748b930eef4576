package stacks

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// ErrDiffIDMismatch is returned when a layer's uncompressed bytes do not
// hash to the DiffID the image config promises: the blob is corrupt.
var ErrDiffIDMismatch = layers.ErrDiffIDMismatch

// rootfsDir is the folder under the paas home holding unpacked stacks.
const rootfsDir = "rootfs"

// tempPrefix starts the name of a tree being unpacked or removed; the next
// holder of the digest's lock removes any such leftover.
const tempPrefix = ".unpack-"

// lockPoll is how often a waiting caller retries a busy lock; flock itself
// cannot be interrupted by a context.
const lockPoll = 50 * time.Millisecond

// Rootfs returns the directory holding img's root filesystem, unpacking it
// the first time into home/rootfs/<manifest digest hex>-<mapping>. The tree
// belongs to root inside the sandbox (see sandbox.Own): to the caller, or
// as root to the unprivileged host ids the sandbox maps root to. Since
// that depends on the mapping, <mapping> names it (the start of the
// SHA-256 of sandbox.IDMapping()), so a tree made under one mapping is
// never used under another. The tree is never modified after it appears,
// so callers may share it read-only. Concurrent callers, in one process or
// many, unpack it once.
func Rootfs(ctx context.Context, home string, img v1.Image) (string, error) {
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("computing image digest: %w", err)
	}
	dir := filepath.Join(home, rootfsDir)
	final := filepath.Join(dir, rootfsName(digest.Hex, sandbox.IDMapping()))
	if isDir(final) {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating rootfs cache: %w", err)
	}
	unlock, err := lockDigest(ctx, dir, digest.Hex)
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(final) {
		return final, nil // another caller unpacked it while we waited
	}
	if err := removeLeftovers(dir, digest.Hex); err != nil {
		return "", err
	}
	if err := unpackInto(ctx, img, dir, final); err != nil {
		return "", fmt.Errorf("unpacking stack %s: %w", digest, err)
	}
	return final, nil
}

// unpackInto unpacks img into a temporary sibling of final and renames it
// into place, so final never names a partial tree.
func unpackInto(ctx context.Context, img v1.Image, dir, final string) (retErr error) {
	tmp, err := os.MkdirTemp(dir, tempPrefix+filepath.Base(final)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			fsutil.RemoveAll(tmp)
		}
	}()
	if err := unpackImage(ctx, img, tmp); err != nil {
		return err
	}
	// Root inside must own the stack: root-owned files would be nobody's
	// inside a root caller's sandbox, and copying them up fails.
	if err := sandbox.Own(tmp); err != nil {
		return err
	}
	err = os.Rename(tmp, final)
	if err != nil && isDir(final) {
		// Someone outside the lock protocol won the race; theirs is as good.
		fsutil.RemoveAll(tmp)
		return nil
	}
	return err
}

// unpackImage applies img's layers in order to dir.
func unpackImage(ctx context.Context, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	u, err := newUnpacker(dir)
	if err != nil {
		return err
	}
	defer u.close()
	for i, l := range layers {
		if err := unpackLayer(ctx, u, l); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return u.finish()
}

// unpackLayer unpacks one layer, checking its content against its DiffID so
// a corrupt blob never becomes a cached tree.
func unpackLayer(ctx context.Context, u *unpacker, l v1.Layer) error {
	want, err := l.DiffID()
	if err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return u.layer(ctx, rc, layers.WithDiffID(want))
}

// RemoveRootfs deletes the unpacked tree of the image with the given
// manifest digest, and any leftovers of interrupted unpacks of it, even when
// the tree has read-only directories. Removing a tree that is not there is
// not an error.
func RemoveRootfs(home string, digest v1.Hash) error {
	dir := filepath.Join(home, rootfsDir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := lockDigest(context.Background(), dir, digest.Hex)
	if err != nil {
		return err
	}
	defer unlock()
	if err := removeLeftovers(dir, digest.Hex); err != nil {
		return err
	}
	trees, err := filepath.Glob(filepath.Join(dir, digest.Hex+"*"))
	if err != nil {
		return fmt.Errorf("removing rootfs %s: %w", digest, err)
	}
	for _, tree := range trees {
		if err := removeFinal(dir, tree, digest.Hex); err != nil {
			return fmt.Errorf("removing rootfs %s: %w", digest, err)
		}
	}
	return os.Remove(lockPath(dir, digest.Hex))
}

// rootfsName names the tree of the image with manifest digest hex made
// under the sandbox id mapping idMapping.
func rootfsName(hex, idMapping string) string {
	sum := sha256.Sum256([]byte(idMapping))
	return hex + "-" + fmt.Sprintf("%x", sum[:8])
}

// removeFinal removes one tree of hex, under any mapping (or none, as trees
// were named before mappings moved). It renames first: a removal killed
// halfway must leave a leftover, not a partial tree under the final name.
func removeFinal(dir, tree, hex string) error {
	doomed := filepath.Join(dir, tempPrefix+hex+"-removing")
	err := os.Rename(tree, doomed)
	if err == nil {
		err = fsutil.RemoveAll(doomed)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeLeftovers removes trees of digest hex that a dead process was
// unpacking or removing. Only the lock holder calls it, so no live process
// owns them.
func removeLeftovers(dir, hex string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading rootfs cache: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix+hex+"-") {
			if err := fsutil.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("removing leftover %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}

func lockPath(dir, hex string) string { return filepath.Join(dir, "."+hex+".lock") }

// lockDigest takes the exclusive lock of one digest in dir and returns its
// release. The lock is a flock on .<hex>.lock; since RemoveRootfs deletes
// that file, a caller that locked a file no longer at the path starts over.
func lockDigest(ctx context.Context, dir, hex string) (func(), error) {
	p := lockPath(dir, hex)
	for {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening lock: %w", err)
		}
		if err := flock(ctx, f); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		if sameFile(f, p) {
			return func() { f.Close() }, nil
		}
		f.Close()
	}
}

// flock waits for an exclusive lock on f until ctx is done.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}
