package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"

	"github.com/paas-dev/paas/fsutil"
)

// writeImage writes the blobs of img that the store lacks, manifest last,
// and returns the manifest's descriptor carrying the manifest's annotations.
func (s *Store) writeImage(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("listing layers: %w", err)
	}
	for _, l := range layers {
		if err := s.putLayer(ctx, l); err != nil {
			return v1.Descriptor{}, err
		}
	}
	// The manifest is read after the layers: a streamed layer
	// (stream.Layer) knows its digest only once it has been consumed.
	cfgName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading config digest: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading config: %w", err)
	}
	if err := s.putBytes(ctx, cfgName, cfg); err != nil {
		return v1.Descriptor{}, err
	}
	return s.putManifest(ctx, img)
}

// putManifest writes img's manifest once every blob it names is present, so
// the store never holds a manifest whose content is missing.
func (s *Store) putManifest(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading manifest media type: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing manifest: %w", err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if !s.has(d.Digest, d.Size) {
			return v1.Descriptor{}, fmt.Errorf("manifest names blob %s that the image did not provide", d.Digest)
		}
	}
	d := fsutil.NewDigester()
	_, _ = d.Write(raw) // a Digester never fails
	digest := d.Digest()
	if err := s.putBytes(ctx, digest, raw); err != nil {
		return v1.Descriptor{}, err
	}
	annotations := maps.Clone(m.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest, Annotations: annotations}, nil
}

// putLayer writes a layer's compressed blob unless the store has it.
func (s *Store) putLayer(ctx context.Context, l v1.Layer) error {
	digest, err := l.Digest()
	if errors.Is(err, stream.ErrNotComputed) {
		return s.putStream(ctx, l)
	}
	if err != nil {
		return fmt.Errorf("reading layer digest: %w", err)
	}
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("reading size of layer %s: %w", digest, err)
	}
	if s.has(digest, size) {
		return nil
	}
	if f, ok := l.(spooled); ok {
		if linked, err := s.linkBlob(f.Path(), digest, size); linked || err != nil {
			return err
		}
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("opening layer %s: %w", digest, err)
	}
	defer rc.Close()
	return s.writeBlob(ctx, &digest, size, rc)
}

// spooled is a layer whose compressed bytes are a whole file of their own,
// such as the layers package makes.
type spooled interface{ Path() string }

// linkBlob stores the blob in file path by a hard link rather than a copy:
// a layer's 78 MB are then read once, to check them against want and size,
// and never written again. linked is false when the file cannot be linked
// (another filesystem, or a store that forbids links), for the caller to
// copy it instead.
func (s *Store) linkBlob(path string, want v1.Hash, size int64) (linked bool, err error) {
	if err := checkAlgorithm(want); err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	d := fsutil.NewDigester()
	if _, err := io.Copy(d, f); err != nil {
		return false, nil
	}
	if err := checkDigest(d, want, size); err != nil {
		return false, err
	}
	if err := f.Sync(); err != nil {
		return false, nil
	}
	tmp := filepath.Join(s.path("blobs"), fmt.Sprintf("%slink-%d", tmpPrefix, rand.Uint64()))
	if err := os.Link(path, tmp); err != nil {
		return false, nil
	}
	if err := os.Rename(tmp, s.blobPath(want)); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("storing blob %s: %w", want, err)
	}
	return true, fsutil.SyncDir(filepath.Dir(s.blobPath(want)))
}

// putStream writes a layer whose digest is known only after reading it.
func (s *Store) putStream(ctx context.Context, l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("opening streamed layer: %w", err)
	}
	defer rc.Close()
	return s.writeBlob(ctx, nil, -1, rc)
}

func (s *Store) putBytes(ctx context.Context, digest v1.Hash, b []byte) error {
	if s.has(digest, int64(len(b))) {
		return nil
	}
	return s.writeBlob(ctx, &digest, int64(len(b)), bytes.NewReader(b))
}

// has reports whether the store holds blob h of the given size; a negative
// size matches any.
func (s *Store) has(h v1.Hash, size int64) bool {
	fi, err := os.Stat(s.blobPath(h))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// writeBlob streams r into a temp file next to the blobs, checking it
// against want and size (when given) as it goes, syncs it and renames it to
// its digest. On any failure, ENOSPC included, the temp file is removed and
// nothing becomes visible.
func (s *Store) writeBlob(ctx context.Context, want *v1.Hash, size int64, r io.Reader) error {
	if want != nil {
		if err := checkAlgorithm(*want); err != nil {
			return err
		}
	}
	tmp, err := fsutil.CreateTemp(s.path("blobs"), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("creating blob file: %w", err)
	}
	defer tmp.Discard()
	d := fsutil.NewDigester()
	if _, err := io.Copy(io.MultiWriter(tmp, d), ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("writing blob %s: %w", describe(want), err)
	}
	got := d.Digest()
	if want != nil {
		if err := checkDigest(d, *want, size); err != nil {
			return err
		}
	}
	if err := tmp.Commit(s.blobPath(got)); err != nil {
		return fmt.Errorf("storing blob %s: %w", got, err)
	}
	return nil
}

func describe(h *v1.Hash) string {
	if h == nil {
		return "(streamed)"
	}
	return h.String()
}
