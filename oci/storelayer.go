package oci

import (
	"fmt"

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
