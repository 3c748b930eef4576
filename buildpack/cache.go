package buildpack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// Names inside a cache entry directory.
const (
	entryDir      = "bp"       // the buildpack itself
	entryResolved = "resolved" // Buildpack.Resolved of the fetch
	tmpInfix      = ".tmp-"    // <key>.tmp-*: fetches in progress or left by a crash
)

// cached returns the buildpack directory for ref from the cache, fetching
// it first when there is no entry or the entry may be stale.
func (o Options) cached(ctx context.Context, ref string, loc location) (dir, resolved string, err error) {
	if o.CacheDir == "" {
		return "", "", fetchf(ref, "no cache directory given for a fetched buildpack")
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return "", "", fetchf(ref, "creating buildpack cache: %w", err)
	}
	entry := filepath.Join(absPath(o.CacheDir), cacheKey(ref))
	// Another process's fetch of the same reference holds the lock until
	// its entry is complete; the wait ends with ctx.
	lock, err := fsutil.LockFile(ctx, entry+".lock", unix.LOCK_EX, func() {
		o.logf("Waiting for another fetch of buildpack %s", ref)
	})
	if err != nil {
		return "", "", fetchf(ref, "locking buildpack cache: %w", err)
	}
	defer lock.Close()
	removeStale(entry)

	if got, ok := readEntry(entry); ok && o.reusable(ref, loc, got) {
		o.logf("Using cached buildpack %s (%s)", ref, short(got))
		return filepath.Join(entry, entryDir), got, nil
	}
	o.logf("Fetching buildpack %s", ref)
	resolved, err = fill(ctx, entry, o.fetcherFor(ref, loc))
	if err != nil {
		return "", "", named(ref, err)
	}
	return filepath.Join(entry, entryDir), resolved, nil
}

// cacheKey names a reference's cache entry: the sha256 of the reference
// string, #ref included, so every pin has its own entry.
func cacheKey(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(sum[:])
}

// reusable reports whether a cache entry that resolved to got may be used
// without fetching. Commit shas and archive URLs are immutable pins; a local
// archive is re-hashed because its file can change under the same name.
func (o Options) reusable(ref string, loc location, got string) bool {
	switch loc.kind {
	case kindArchiveURL:
		return true
	case kindArchive:
		want, err := archiveFile{ref: ref, path: loc.src}.digest()
		return err == nil && want == got
	case kindImage:
		want, err := imageDigest(loc)
		return err == nil && want == got
	case kindRegistry:
		return strings.Contains(loc.src, "@sha256:") || !o.Pull
	default:
		return isFullSHA(loc.rev) || !o.Pull
	}
}

// readEntry returns the resolved pin of a complete cache entry.
func readEntry(entry string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(entry, entryResolved))
	if err != nil {
		return "", false
	}
	if _, err := os.Stat(filepath.Join(entry, entryDir)); err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// fetcher fetches a buildpack into dir (which does not exist yet) and
// returns its resolved pin.
type fetcher interface {
	fetch(ctx context.Context, dir string) (string, error)
}

// fetcherFor returns how loc is fetched into the cache.
func (o Options) fetcherFor(ref string, loc location) fetcher {
	switch loc.kind {
	case kindArchive:
		return archiveFile{ref: ref, path: loc.src}
	case kindArchiveURL:
		return archiveURL{ref: ref, url: loc.src, cas: o.CAs}
	case kindImage, kindRegistry:
		return imageFetcher{ref: ref, load: loaderFor(loc)}
	default:
		return gitRepo{ref: ref, src: loc.src, rev: loc.rev, cas: o.CAs}
	}
}

// fill fetches into a temporary sibling of entry and then swaps it into
// place, so readers never see a half-written entry.
func fill(ctx context.Context, entry string, f fetcher) (_ string, retErr error) {
	tmp, err := os.MkdirTemp(filepath.Dir(entry), filepath.Base(entry)+tmpInfix)
	if err != nil {
		return "", fmt.Errorf("creating buildpack cache entry: %w", err)
	}
	defer func() {
		if retErr != nil {
			fsutil.RemoveAll(tmp)
		}
	}()
	resolved, err := f.fetch(ctx, filepath.Join(tmp, entryDir))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, entryResolved), []byte(resolved+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing buildpack cache entry: %w", err)
	}
	return resolved, replace(entry, tmp)
}

// replace renames dir to entry, moving an existing entry aside first into a
// temporary directory (which removeStale reclaims should removal fail here).
func replace(entry, dir string) error {
	old, err := os.MkdirTemp(filepath.Dir(entry), filepath.Base(entry)+tmpInfix)
	if err != nil {
		return fmt.Errorf("replacing buildpack cache entry: %w", err)
	}
	aside := filepath.Join(old, entryDir)
	if err := os.Rename(entry, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(old)
		return fmt.Errorf("replacing buildpack cache entry: %w", err)
	}
	if err := os.Rename(dir, entry); err != nil {
		_ = os.Rename(aside, entry) // keep the previous entry usable
		return fmt.Errorf("replacing buildpack cache entry: %w", err)
	}
	// The new entry is in place; a failed removal is retried by removeStale.
	fsutil.RemoveAll(old)
	return nil
}

// removeStale deletes temporary directories of entry that a crashed or
// finished fetch left behind. The caller holds entry's lock, so none is in use.
func removeStale(entry string) {
	leftovers, _ := filepath.Glob(entry + tmpInfix + "*")
	for _, p := range leftovers {
		fsutil.RemoveAll(p)
	}
}

// isFullSHA reports whether rev is a full 40-hex git commit id, the only
// git reference that cannot move.
func isFullSHA(rev string) bool {
	if len(rev) != 40 {
		return false
	}
	_, err := hex.DecodeString(rev)
	return err == nil
}

// short abbreviates a resolved pin for log lines.
func short(resolved string) string {
	hexPart := strings.TrimPrefix(resolved, "sha256:")
	if len(hexPart) > 12 {
		return resolved[:len(resolved)-len(hexPart)+12]
	}
	return resolved
}
