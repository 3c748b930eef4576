package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Labels by which containerd's garbage collector follows a manifest to its
// config and layers, so that the image record keeps them all.
const (
	gcRefConfig      = "containerd.io/gc.ref.content.config"
	gcRefLayerPrefix = "containerd.io/gc.ref.content.l."
)

// importImage writes img's layers, config and manifest into containerd's
// content store, each only if the store lacks it, streaming layers from
// img. It returns the manifest's descriptor.
func importImage(ctx context.Context, cs content.Store, img v1.Image) (ocispec.Descriptor, error) {
	m, err := img.Manifest()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	labels := map[string]string{gcRefConfig: m.Config.Digest.String()}
	for i, l := range m.Layers {
		if err := importBlob(ctx, cs, ociDescriptor(l), layerOpener(img, l.Digest), nil); err != nil {
			return ocispec.Descriptor{}, err
		}
		labels[gcRefLayerPrefix+strconv.Itoa(i)] = l.Digest.String()
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("reading config: %w", err)
	}
	if err := importBlob(ctx, cs, ociDescriptor(m.Config), bytesOpener(config), nil); err != nil {
		return ocispec.Descriptor{}, err
	}
	return importManifest(ctx, cs, img, labels)
}

// importManifest writes img's manifest with labels that reference its
// config and layers.
func importManifest(ctx context.Context, cs content.Store, img v1.Image, labels map[string]string) (ocispec.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("reading manifest media type: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if err := importBlob(ctx, cs, desc, bytesOpener(raw), labels); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// opener opens the bytes of a blob.
type opener func() (io.ReadCloser, error)

// layerOpener opens the compressed blob of img's layer d.
func layerOpener(img v1.Image, d v1.Hash) opener {
	return func() (io.ReadCloser, error) {
		l, err := img.LayerByDigest(d)
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}
}

func bytesOpener(b []byte) opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// importBlob makes sure the store holds desc's blob with labels: it checks
// first, and writes the blob only if the store lacks it.
func importBlob(ctx context.Context, cs content.Store, desc ocispec.Descriptor, open opener, labels map[string]string) error {
	if ok, err := have(ctx, cs, desc, labels); ok || err != nil {
		return err
	}
	if err := writeBlob(ctx, cs, desc, open, labels); err != nil {
		return err
	}
	// Another namespace may have had the blob, which containerd then
	// shares without writing it, or our labels.
	_, err := have(ctx, cs, desc, labels)
	return err
}

// have reports whether the store holds desc's blob, and gives a held blob
// any of labels it lacks.
func have(ctx context.Context, cs content.Store, desc ocispec.Descriptor, labels map[string]string) (bool, error) {
	info, err := cs.Info(ctx, desc.Digest)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking content %s: %w", desc.Digest, err)
	}
	var fields []string
	for k, v := range labels {
		if info.Labels[k] != v {
			fields = append(fields, "labels."+k)
		}
	}
	if len(fields) == 0 {
		return true, nil
	}
	info.Labels = labels
	if _, err := cs.Update(ctx, info, fields...); err != nil {
		return false, fmt.Errorf("labelling content %s: %w", desc.Digest, err)
	}
	return true, nil
}

// writeBlob streams the blob open gives into the store, which checks its
// digest and size as it commits. The blob is opened only once the store
// is ready for it: not when the blob turns out to be there already, or
// when a concurrent start wrote it meanwhile.
func writeBlob(ctx context.Context, cs content.Store, desc ocispec.Descriptor, open opener, labels map[string]string) error {
	w, err := content.OpenWriter(ctx, cs, content.WithRef("paas-import-"+desc.Digest.String()), content.WithDescriptor(desc))
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing content %s: %w", desc.Digest, err)
	}
	defer w.Close()
	rc, err := open()
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	if err := content.Copy(ctx, w, rc, desc.Size, desc.Digest, content.WithLabels(labels)); err != nil {
		return fmt.Errorf("writing content %s: %w", desc.Digest, err)
	}
	return nil
}

// ociDescriptor converts a ggcr descriptor to the OCI type containerd uses.
func ociDescriptor(d v1.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

// recordImage creates or updates the image record name to point at target.
func (r *containerdRuntime) recordImage(ctx context.Context, name string, target ocispec.Descriptor) (client.Image, error) {
	is := r.client.ImageService()
	rec := images.Image{Name: name, Target: target}
	created, err := is.Create(ctx, rec)
	if errdefs.IsAlreadyExists(err) {
		created, err = is.Update(ctx, rec, "target")
	}
	if err != nil {
		return nil, fmt.Errorf("recording image %s: %w", name, err)
	}
	return client.NewImage(r.client, created), nil
}
