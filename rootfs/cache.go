package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// tempPrefix starts the name of a tree being unpacked or removed; the next
// holder of its ChainID's lock removes any such leftover.
const tempPrefix = ".unpack-"

// Cache is a directory of unpacked root filesystems (see the package
// documentation). Its methods are safe for concurrent use, also by many
// processes sharing the directory.
type Cache struct{ dir string }

// Open returns the cache in dir, creating the directory if need be.
func Open(dir string) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening rootfs cache: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("creating rootfs cache: %w", err)
	}
	return &Cache{dir: abs}, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Get returns the directory holding img's root filesystem, unpacking its
// layers the first time through the sandbox's id mapping (see sandbox.Unpack),
// each checked against its DiffID. The tree is never modified after it
// appears, so callers may share it read-only. Concurrent callers, in one
// process or many, unpack it once; a tree whose unpack was killed is never
// used and is removed by the next caller.
func (c *Cache) Get(ctx context.Context, img v1.Image) (string, error) {
	ls, chain, err := chainOf(img)
	if err != nil {
		return "", err
	}
	final := filepath.Join(c.dir, treeName(chain, sandbox.IDMapping()))
	if isDir(final) {
		return final, nil
	}
	unlock, err := c.lock(ctx, chain)
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(final) {
		return final, nil // another caller unpacked it while we waited
	}
	if err := c.removeLeftovers(chain); err != nil {
		return "", err
	}
	if err := c.unpack(ctx, ls, final); err != nil {
		return "", fmt.Errorf("unpacking rootfs %s: %w", chain, err)
	}
	return final, nil
}

// Remove deletes the trees of img's layers under every id mapping, and any
// leftovers of interrupted unpacks of them, even where they have read-only
// directories or files of subordinate ids. Removing a tree that is not
// there is not an error. The caller must know that no one uses the trees:
// another image with the same layers shares them.
func (c *Cache) Remove(img v1.Image) error {
	_, chain, err := chainOf(img)
	if err != nil {
		return err
	}
	unlock, err := c.lock(context.Background(), chain)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.removeLeftovers(chain); err != nil {
		return err
	}
	trees, err := filepath.Glob(filepath.Join(c.dir, chain.Hex+"-*"))
	if err != nil {
		return fmt.Errorf("removing rootfs %s: %w", chain, err)
	}
	for _, tree := range trees {
		if err := c.removeTree(tree); err != nil {
			return fmt.Errorf("removing rootfs %s: %w", chain, err)
		}
	}
	return os.Remove(c.lockPath(chain))
}

// ChainID identifies the filesystem that layers with diffIDs stack up to,
// as the OCI image spec defines it: ChainID(L0) = DiffID(L0) and
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
func ChainID(diffIDs []v1.Hash) v1.Hash {
	if len(diffIDs) == 0 {
		return v1.Hash{}
	}
	id := diffIDs[0]
	for _, d := range diffIDs[1:] {
		sum := sha256.Sum256([]byte(id.String() + " " + d.String()))
		id = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return id
}

// chainOf returns img's layers and their ChainID.
func chainOf(img v1.Image) ([]v1.Layer, v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading layers: %w", err)
	}
	if len(ls) == 0 {
		return nil, v1.Hash{}, errors.New("image has no layers")
	}
	diffIDs := make([]v1.Hash, len(ls))
	for i, l := range ls {
		if diffIDs[i], err = l.DiffID(); err != nil {
			return nil, v1.Hash{}, fmt.Errorf("reading layer DiffID: %w", err)
		}
	}
	return ls, ChainID(diffIDs), nil
}

// treeName names the tree of the layers with ChainID chain unpacked under
// the sandbox id mapping idMapping: "CHAIN-MAPPING", the second part the
// start of the mapping description's SHA-256. The files' owners on disk
// are what the mapping made of the image's, so a tree made under one
// mapping is never used under another.
func treeName(chain v1.Hash, idMapping string) string {
	sum := sha256.Sum256([]byte(idMapping))
	return chain.Hex + "-" + hex.EncodeToString(sum[:8])
}

// unpack unpacks ls into a temporary sibling of final and renames it into
// place, so final never names a partial tree.
func (c *Cache) unpack(ctx context.Context, ls []v1.Layer, final string) (retErr error) {
	tmp, err := os.MkdirTemp(c.dir, tempPrefix+filepath.Base(final)+"-")
	if err != nil {
		return err
	}
	// Whatever is still at tmp on failure was not moved into place. Its
	// files may belong to subordinate ids only the sandbox can remove.
	defer func() {
		if retErr != nil {
			sandbox.RemoveAll(tmp)
		}
	}()
	for i, l := range ls {
		if err := unpackLayer(ctx, l, tmp); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	// Whatever the layers said, all users of the sandbox must be able to
	// enter /, only its owner may change it, and its mtime is the epoch.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	t := layers.SourceDateEpoch()
	if err := os.Chtimes(tmp, t, t); err != nil {
		return err
	}
	err = os.Rename(tmp, final)
	if err != nil && isDir(final) {
		// Someone outside the lock protocol won the race; theirs is as good.
		sandbox.RemoveAll(tmp)
		return nil
	}
	return err
}

// unpackLayer applies one layer to dir, through the sandbox's id mapping
// so that its files have the owners the sandbox will show. The cache is
// keyed by the DiffIDs the image claims, so each layer is checked against
// its claim before the tree can be renamed into place: otherwise an image
// could claim another's DiffIDs and poison that image's rootfs.
func unpackLayer(ctx context.Context, l v1.Layer, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	diffID, err := l.DiffID()
	if err != nil {
		return fmt.Errorf("reading layer: %w", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	defer rc.Close()
	vr, err := layers.VerifyDiffID(rc, diffID)
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	if err := sandbox.Unpack(ctx, vr, dir); err != nil {
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	return vr.Verify()
}

// removeTree removes one tree. It renames it first: a removal killed
// halfway must leave a leftover, not a partial tree under the final name.
func (c *Cache) removeTree(tree string) error {
	doomed := filepath.Join(c.dir, tempPrefix+filepath.Base(tree)+"-removing")
	err := os.Rename(tree, doomed)
	if err == nil {
		err = sandbox.RemoveAll(doomed)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeLeftovers removes trees of chain that a dead process was unpacking
// or removing. Only the holder of chain's lock calls it, so no live process
// owns them.
func (c *Cache) removeLeftovers(chain v1.Hash) error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("reading rootfs cache: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix+chain.Hex+"-") {
			if err := sandbox.RemoveAll(filepath.Join(c.dir, e.Name())); err != nil {
				return fmt.Errorf("removing leftover %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

func (c *Cache) lockPath(chain v1.Hash) string {
	return filepath.Join(c.dir, "."+chain.Hex+".lock")
}

// lock takes the exclusive lock of one ChainID and returns its release.
// The lock is a flock on .<chain hex>.lock; since Remove deletes that
// file, a caller that locked a file no longer at the path starts over.
func (c *Cache) lock(ctx context.Context, chain v1.Hash) (func(), error) {
	p := c.lockPath(chain)
	for {
		f, err := fsutil.LockFile(ctx, p, unix.LOCK_EX, nil)
		if err != nil {
			return nil, err
		}
		if sameFile(f, p) {
			return func() { f.Close() }, nil
		}
		f.Close()
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

func isDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}
