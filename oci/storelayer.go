package oci

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// Layer returns the layer blob desc names, read from the store lazily and
// verified against its digest as it is read, with diffID as its DiffID.
// The store does not check diffID: the caller vouches for it, having
// hashed the layer's content itself when it made the blob. It fails with
// ErrNotFound when the store lacks the blob or holds another size.
func (s *Store) Layer(desc v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	if err := checkAlgorithm(desc.Digest); err != nil {
		return nil, err
	}
	if !s.has(desc.Digest, desc.Size) {
		return nil, fmt.Errorf("layer %s: %w", desc.Digest, ErrNotFound)
	}
	return partial.CompressedToLayer(&storeLayer{layoutBlob{src: dirBlobs(s.dir), desc: desc}, diffID})
}

// storeLayer is a layer blob of the store whose DiffID is known.
type storeLayer struct {
	layoutBlob
	diffID v1.Hash
}

func (l *storeLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// OpenBlob opens the blob h of size bytes for reading at any offset. Its
// content is not checked against h: callers take pieces of it (the gzip
// blocks of a layer made before) and check each against a sum of its own,
// which costs less than reading the whole blob first.
func (s *Store) OpenBlob(h v1.Hash, size int64) (*os.File, error) {
	if err := checkAlgorithm(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w: not a file of %d bytes", h, ErrDigestMismatch, size)
	}
	return f, nil
}
