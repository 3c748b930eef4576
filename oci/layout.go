package oci

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// blobSource opens the blobs of an OCI image layout, be it a directory or a
// tar archive, so one reader serves the store, oci: and oci-archive:.
type blobSource interface {
	open(h v1.Hash) (io.ReadCloser, error)
}

// dirBlobs is an OCI image layout directory.
type dirBlobs string

func (d dirBlobs) open(h v1.Hash) (io.ReadCloser, error) {
	if err := checkAlgorithm(h); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(string(d), "blobs", h.Algorithm, h.Hex))
}

// readBlob reads a small blob whole, verified against its descriptor.
func readBlob(src blobSource, desc v1.Descriptor) ([]byte, error) {
	rc, err := src.open(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", desc.Digest, err)
	}
	b, err := readAllVerified(rc, desc.Digest, desc.Size)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", desc.Digest, err)
	}
	return b, nil
}

// layoutImage is an image whose blobs live in a blobSource. Every blob it
// hands out is verified against its digest as it is read.
type layoutImage struct {
	src  blobSource
	desc v1.Descriptor

	once     sync.Once
	manifest []byte
	err      error

	configOnce sync.Once
	diffIDs    map[v1.Hash]v1.Hash // layer digest → DiffID, from the config
	configErr  error
}

var _ partial.CompressedImageCore = (*layoutImage)(nil)

// imageAt returns the image that desc points to in src.
func imageAt(src blobSource, desc v1.Descriptor) (v1.Image, error) {
	return partial.CompressedToImage(&layoutImage{src: src, desc: desc})
}

func (li *layoutImage) MediaType() (types.MediaType, error) { return li.desc.MediaType, nil }

func (li *layoutImage) RawManifest() ([]byte, error) {
	li.once.Do(func() { li.manifest, li.err = readBlob(li.src, li.desc) })
	return li.manifest, li.err
}

func (li *layoutImage) parsedManifest() (*v1.Manifest, error) {
	raw, err := li.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}

func (li *layoutImage) RawConfigFile() ([]byte, error) {
	m, err := li.parsedManifest()
	if err != nil {
		return nil, err
	}
	return readBlob(li.src, m.Config)
}

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := li.parsedManifest()
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &layoutBlob{src: li.src, desc: m.Config}, nil
	}
	for _, d := range m.Layers {
		if d.Digest == h {
			return &layoutBlob{src: li.src, desc: d, img: li}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not in image %s", h, li.desc.Digest)
}

// diffID returns the DiffID the config gives the layer with digest h.
func (li *layoutImage) diffID(h v1.Hash) (v1.Hash, error) {
	li.configOnce.Do(func() { li.diffIDs, li.configErr = li.readDiffIDs() })
	if li.configErr != nil {
		return v1.Hash{}, li.configErr
	}
	d, ok := li.diffIDs[h]
	if !ok {
		return v1.Hash{}, fmt.Errorf("layer %s is not in image %s", h, li.desc.Digest)
	}
	return d, nil
}

func (li *layoutImage) readDiffIDs() (map[v1.Hash]v1.Hash, error) {
	m, err := li.parsedManifest()
	if err != nil {
		return nil, err
	}
	raw, err := li.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the config of image %s: %w", li.desc.Digest, err)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s has %d layers but its config %d DiffIDs", li.desc.Digest, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	out := make(map[v1.Hash]v1.Hash, len(m.Layers))
	for i, l := range m.Layers {
		out[l.Digest] = cf.RootFS.DiffIDs[i]
	}
	return out, nil
}

// layoutBlob is one layer or config blob of a layoutImage.
type layoutBlob struct {
	src  blobSource
	desc v1.Descriptor
	img  *layoutImage // nil for the config
}

// DiffID is the one the image's config claims, not one computed from the
// blob (which would read and decompress it all): what unpacks a layer
// checks its content against the claim (layers.VerifyDiffID).
func (b *layoutBlob) DiffID() (v1.Hash, error) {
	if b.img == nil {
		return b.desc.Digest, nil // the config is not compressed
	}
	return b.img.diffID(b.desc.Digest)
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }

func (b *layoutBlob) Compressed() (io.ReadCloser, error) {
	rc, err := b.src.open(b.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", b.desc.Digest, err)
	}
	return newVerifyingReader(rc, b.desc.Digest, b.desc.Size), nil
}

// readIndexFrom reads index.json from a layout.
func readIndexFrom(open func(name string) (io.ReadCloser, error)) (*v1.IndexManifest, error) {
	rc, err := open(specs.ImageIndexFile)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	idx, err := v1.ParseIndexManifest(rc)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", specs.ImageIndexFile, err)
	}
	return idx, nil
}

// pickImage chooses the image in a layout's index: the entry whose
// org.opencontainers.image.ref.name is ref, or the only entry when ref is
// empty. An entry that is itself an index (a multi-platform image) resolves
// to its manifest for this machine's platform.
func pickImage(src blobSource, idx *v1.IndexManifest, ref string) (v1.Descriptor, error) {
	var found []v1.Descriptor
	var refs []string
	for _, d := range idx.Manifests {
		name := d.Annotations[AnnotationRefName]
		if ref == "" || name == ref {
			found = append(found, d)
		}
		refs = append(refs, name)
	}
	switch {
	case len(found) == 0 && ref != "":
		return v1.Descriptor{}, fmt.Errorf("no image named %q (have %q): %w", ref, refs, ErrNotFound)
	case len(found) == 0:
		return v1.Descriptor{}, fmt.Errorf("layout holds no image: %w", ErrNotFound)
	case len(found) > 1 && ref == "":
		return v1.Descriptor{}, fmt.Errorf("%w: layout holds %d images; name one with :NAME (have %q)", ErrAmbiguous, len(found), refs)
	case len(found) > 1:
		return v1.Descriptor{}, fmt.Errorf("%w: layout holds %d images named %q", ErrAmbiguous, len(found), ref)
	}
	return resolvePlatform(src, found[0])
}

// resolvePlatform follows image indexes down to the image for
// linux/GOARCH.
func resolvePlatform(src blobSource, desc v1.Descriptor) (v1.Descriptor, error) {
	for depth := 0; desc.MediaType.IsIndex(); depth++ {
		if depth > 8 {
			return v1.Descriptor{}, fmt.Errorf("image index %s nests too deep", desc.Digest)
		}
		raw, err := readBlob(src, desc)
		if err != nil {
			return v1.Descriptor{}, err
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", desc.Digest, err)
		}
		next, err := platformEntry(idx)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		desc = next
	}
	if !desc.MediaType.IsImage() {
		return v1.Descriptor{}, fmt.Errorf("%s is a %s, not an image", desc.Digest, desc.MediaType)
	}
	return desc, nil
}

func platformEntry(idx *v1.IndexManifest) (v1.Descriptor, error) {
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	for _, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s: %w", want.String(), ErrNotFound)
}
