package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/sandbox"
)

// chainID identifies the filesystem that layers with diffIDs stack up to,
// as the OCI image spec defines it: ChainID(L0) = DiffID(L0) and
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
func chainID(diffIDs []v1.Hash) v1.Hash {
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

// rootfsCache holds unpacked image filesystems, one directory per ChainID
// and sandbox id mapping: the files' owners on disk are what the mapping
// made of the image's, so a tree unpacked under one mapping is wrong under
// another.
type rootfsCache struct {
	dir string
	// unpacking serializes this process's unpacks of one ChainID, so that
	// concurrent starts of an image unpack it once.
	unpacking keyedMutex
}

// get returns the directory holding img's unpacked layers, unpacking them
// first if no earlier start did. Unpacking happens in a temporary
// directory renamed into place, so concurrent starts of one image, even
// in different processes, are safe and an interrupted unpack leaves no
// half-filled rootfs.
func (c *rootfsCache) get(ctx context.Context, img v1.Image) (string, error) {
	ls, err := img.Layers()
	if err != nil {
		return "", fmt.Errorf("reading layers: %w", err)
	}
	diffIDs, err := layerDiffIDs(ls)
	if err != nil {
		return "", err
	}
	if len(diffIDs) == 0 {
		return "", errors.New("image has no layers")
	}
	id := rootfsKey(chainID(diffIDs), sandbox.IDMapping())
	unlock := c.unpacking.lock(id)
	defer unlock()
	dir := filepath.Join(c.dir, id)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	return dir, c.unpack(ctx, ls, dir)
}

// rootfsKey names the rootfs of the layers with ChainID chain unpacked
// under the sandbox id mapping idMapping: "CHAINID-MAPPING", the second
// part the start of the mapping description's SHA-256.
func rootfsKey(chain v1.Hash, idMapping string) string {
	sum := sha256.Sum256([]byte(idMapping))
	return chain.Hex + "-" + hex.EncodeToString(sum[:8])
}

// keyedMutex is a set of mutexes by name.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// lock locks the mutex for key and returns its unlock.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*sync.Mutex{}
	}
	m, ok := k.locks[key]
	if !ok {
		m = &sync.Mutex{}
		k.locks[key] = m
	}
	k.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func layerDiffIDs(ls []v1.Layer) ([]v1.Hash, error) {
	ids := make([]v1.Hash, len(ls))
	for i, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer DiffID: %w", err)
		}
		ids[i] = d
	}
	return ids, nil
}

// unpack unpacks ls into dir by way of a temporary sibling.
func (c *rootfsCache) unpack(ctx context.Context, ls []v1.Layer, dir string) error {
	tmp, err := os.MkdirTemp(c.dir, ".unpack-")
	if err != nil {
		return fmt.Errorf("creating rootfs: %w", err)
	}
	// Whatever is still at tmp on return was not moved into place. Its
	// files may belong to subordinate ids only the sandbox can remove.
	defer func() {
		if tmp != "" {
			_ = sandbox.RemoveAll(tmp)
		}
	}()
	// The rootfs's / must be traversable by every user in the sandbox.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("creating rootfs: %w", err)
	}
	for _, l := range ls {
		if err := unpackLayer(ctx, l, tmp); err != nil {
			return err
		}
	}
	err = os.Rename(tmp, dir)
	if err == nil {
		tmp = "" // moved into place: nothing to remove
		return nil
	}
	if _, statErr := os.Stat(dir); statErr == nil {
		return nil // a concurrent start got there first
	}
	return fmt.Errorf("creating rootfs: %w", err)
}

// unpackLayer applies one layer to dir, through the sandbox's id mapping
// so that its files have the owners the sandbox will show.
func unpackLayer(ctx context.Context, l v1.Layer, dir string) error {
	d, err := l.Digest()
	if err != nil {
		return fmt.Errorf("reading layer digest: %w", err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", d, err)
	}
	defer rc.Close()
	if err := sandbox.Unpack(ctx, rc, dir); err != nil {
		return fmt.Errorf("unpacking layer %s: %w", d, err)
	}
	return nil
}
