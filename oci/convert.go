package oci

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociLayerTypes maps Docker layer media types to their OCI equivalents; the
// blob formats are the same, only the names differ.
var ociLayerTypes = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// OCI returns img with OCI media types for its manifest, config and layers,
// for tools that accept only OCI (umoci, OCI layouts). Layer and config
// blobs are reused byte for byte, so their digests do not change; only the
// manifest, and thus the image digest, does. An image that already is OCI is
// returned as it is.
func OCI(img v1.Image) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	out := m.DeepCopy()
	out.MediaType = types.OCIManifestSchema1
	if out.Config.MediaType == types.DockerConfigJSON {
		out.Config.MediaType = types.OCIConfigJSON
	}
	changed := m.MediaType != out.MediaType || m.Config.MediaType != out.Config.MediaType
	for i, l := range out.Layers {
		if mt, ok := ociLayerTypes[l.MediaType]; ok {
			out.Layers[i].MediaType = mt
			changed = true
		}
	}
	if !changed {
		return img, nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return partial.CompressedToImage(&ociImage{base: img, manifest: out, raw: raw})
}

// ociImage is an image with a rewritten manifest over the blobs of base.
type ociImage struct {
	base     v1.Image
	manifest *v1.Manifest
	raw      []byte
}

func (o *ociImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (o *ociImage) RawManifest() ([]byte, error)        { return o.raw, nil }
func (o *ociImage) RawConfigFile() ([]byte, error)      { return o.base.RawConfigFile() }

func (o *ociImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == o.manifest.Config.Digest {
		l, err := partial.ConfigLayer(o.base)
		if err != nil {
			return nil, err
		}
		return &ociLayer{Layer: l, desc: o.manifest.Config}, nil
	}
	for _, d := range o.manifest.Layers {
		if d.Digest == h {
			l, err := o.base.LayerByDigest(h)
			if err != nil {
				return nil, err
			}
			return &ociLayer{Layer: l, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not in the image", h)
}

// ociLayer is a base layer under its OCI descriptor.
type ociLayer struct {
	v1.Layer
	desc v1.Descriptor
}

func (l *ociLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Descriptor keeps the layer's annotations and URLs in manifests that
// ggcr derives from the layer (remote, layout).
func (l *ociLayer) Descriptor() (*v1.Descriptor, error) { d := l.desc; return &d, nil }
