package oci

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// GC deletes the blobs that no entry of index.json reaches and the temp
// files that killed writers left behind. It waits for Puts in progress to
// finish, since their blobs are not reachable yet.
func (s *Store) GC() error {
	gc, err := s.lock(gcLock, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer gc.Close()
	return s.withIndex(func(idx *v1.IndexManifest) error {
		keep, err := s.reachable(idx)
		if err != nil {
			return fmt.Errorf("collecting garbage: %w", err)
		}
		if err := s.removeTemps(); err != nil {
			return err
		}
		return s.removeBlobsExcept(keep)
	})
}

// reachable returns the digests of every blob the index leads to. A
// manifest that cannot be read stops GC: guessing would delete live blobs.
func (s *Store) reachable(idx *v1.IndexManifest) (map[v1.Hash]bool, error) {
	keep := map[v1.Hash]bool{}
	var walk func(d v1.Descriptor) error
	walk = func(d v1.Descriptor) error {
		if keep[d.Digest] {
			return nil
		}
		keep[d.Digest] = true
		switch {
		case d.MediaType.IsIndex():
			raw, err := readBlob(dirBlobs(s.dir), d)
			if err != nil {
				return err
			}
			child, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("parsing index %s: %w", d.Digest, err)
			}
			for _, c := range child.Manifests {
				if err := walk(c); err != nil {
					return err
				}
			}
		case d.MediaType.IsImage():
			raw, err := readBlob(dirBlobs(s.dir), d)
			if err != nil {
				return err
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
			}
			keep[m.Config.Digest] = true
			for _, l := range m.Layers {
				keep[l.Digest] = true
			}
		}
		return nil
	}
	for _, d := range idx.Manifests {
		if err := walk(d); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// removeTemps deletes unfinished blobs and index or layout temp files.
func (s *Store) removeTemps() error {
	ents, err := os.ReadDir(s.path("blobs"))
	if err != nil {
		return fmt.Errorf("reading blobs: %w", err)
	}
	stale := []string{s.path(specs.ImageIndexFile + ".tmp"), s.path(specs.ImageLayoutFile + ".tmp")}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			stale = append(stale, s.path("blobs", e.Name()))
		}
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing temp file: %w", err)
		}
	}
	return nil
}

// removeBlobsExcept deletes every sha256 blob not in keep. Files whose names
// are not digests are not the store's and are left alone.
func (s *Store) removeBlobsExcept(keep map[v1.Hash]bool) error {
	dir := s.path("blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading blobs: %w", err)
	}
	for _, e := range ents {
		h, err := v1.NewHash("sha256:" + e.Name())
		if err != nil || keep[h] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing blob %s: %w", h, err)
		}
	}
	return fsutil.SyncDir(dir)
}
