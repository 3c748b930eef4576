package home

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/sandbox"
)

// BuildCache returns repo's persistent CACHE_DIR, locked until unlock is
// called: two builds of one app at once take turns rather than corrupt it.
// waiting is called once when another build holds the lock. empty starts
// the cache afresh (--no-cache).
func (h *Home) BuildCache(repo string, empty bool, waiting func()) (dir string, unlock func(), err error) {
	dir = filepath.Join(h.dir, "cache", Key(repo))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating build cache: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("locking build cache: %w", err)
	}
	if err := flockWaiting(lock, waiting); err != nil {
		lock.Close()
		return "", nil, fmt.Errorf("locking build cache: %w", err)
	}
	if empty {
		for _, d := range []string{dir, h.CNBLayers(repo)} {
			if err := sandbox.RemoveAll(d); err != nil {
				lock.Close()
				return "", nil, fmt.Errorf("emptying build cache: %w", err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			lock.Close()
			return "", nil, fmt.Errorf("creating build cache: %w", err)
		}
	}
	return dir, func() { lock.Close() }, nil
}

// flockWaiting takes an exclusive lock on f, calling waiting first when
// someone else holds it.
func flockWaiting(f *os.File, waiting func()) error {
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		return nil
	}
	if waiting != nil {
		waiting()
	}
	return unix.Flock(int(f.Fd()), unix.LOCK_EX)
}

// CNBLayers returns repo's persistent directory of Cloud Native Buildpack
// layers (mounted at /layers in builds), kept and emptied with CACHE_DIR
// under BuildCache's lock, beside it rather than inside it, where classic
// buildpacks could remove it.
func (h *Home) CNBLayers(repo string) string {
	return filepath.Join(h.dir, "cache", Key(repo)+".cnb")
}

// LayerCache returns the file recording the layers of repo's last export,
// by the hashes that find them again (package builder). Like CACHE_DIR it
// is read and written only under BuildCache's lock, but it is paas's own:
// it sits beside CACHE_DIR, never inside it, where buildpacks could write
// it.
func (h *Home) LayerCache(repo string) string {
	return filepath.Join(h.dir, "cache", Key(repo)+".layers.json")
}

// BuildRecord returns the file recording the inputs of repo's last build
// and the image it made (package builder), kept like LayerCache.
func (h *Home) BuildRecord(repo string) string {
	return filepath.Join(h.dir, "cache", Key(repo)+".build.json")
}
