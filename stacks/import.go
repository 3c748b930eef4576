package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
)

// Source prefixes Import understands, spelled as skopeo spells its
// transports so users can pass the same strings to both.
const (
	sourceOCI           = "oci:"
	sourceOCIArchive    = "oci-archive:"
	sourceDockerArchive = "docker-archive:"
)

// refAnnotation names an image in an OCI layout's index.
const refAnnotation = "org.opencontainers.image.ref.name"

var (
	// ErrUnsupportedSource is returned for a source that is neither a file
	// nor one of the oci:, oci-archive: and docker-archive: transports.
	ErrUnsupportedSource = errors.New("unsupported stack source")
	// ErrNoImage is returned when a layout or archive does not hold the
	// image asked for, or holds several and none was named.
	ErrNoImage = errors.New("no such image")
)

// Import loads a stack image from source: a rootfs tarball path (see
// FromTarball), oci:DIR[:REF], oci-archive:FILE[:REF] or
// docker-archive:FILE[:NAME:TAG]. Images from layouts and archives are
// returned unchanged, layers and digests included, so importing a published
// stack keeps its identity. tempDir holds spooled layers and unpacked
// archives, and must outlive the image.
func Import(ctx context.Context, source, tempDir string) (v1.Image, error) {
	img, err := importSource(ctx, source, tempDir)
	if err != nil {
		return nil, fmt.Errorf("importing stack %q: %w", source, err)
	}
	if _, err := img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("importing stack %q: reading config: %w", source, err)
	}
	return img, nil
}

func importSource(ctx context.Context, source, tempDir string) (v1.Image, error) {
	switch {
	case strings.HasPrefix(source, sourceOCI):
		dir, ref := splitRef(strings.TrimPrefix(source, sourceOCI))
		return loadLayout(dir, ref)
	case strings.HasPrefix(source, sourceOCIArchive):
		file, ref := splitRef(strings.TrimPrefix(source, sourceOCIArchive))
		dir, err := extractLayout(ctx, file, tempDir)
		if err != nil {
			return nil, err
		}
		return loadLayout(dir, ref)
	case strings.HasPrefix(source, sourceDockerArchive):
		file, ref := splitRef(strings.TrimPrefix(source, sourceDockerArchive))
		return loadDockerArchive(file, ref)
	}
	if _, err := os.Stat(source); err != nil && looksLikeTransport(source) {
		return nil, ErrUnsupportedSource
	}
	return FromTarball(source, tempDir)
}

// splitRef splits PATH[:REF] at the first colon, as skopeo does: references
// may contain colons, paths may not.
func splitRef(s string) (path, ref string) {
	path, ref, _ = strings.Cut(s, ":")
	return path, ref
}

// looksLikeTransport tells "docker://x" or "containers-storage:x" from a
// file name.
func looksLikeTransport(s string) bool {
	t, _, ok := strings.Cut(s, ":")
	return ok && t != "" && !strings.ContainsAny(t, "/.")
}

// loadLayout returns the image named ref in the OCI layout at dir, or its
// only image when ref is empty. This is a small loader of its own until the
// oci package's loader can be used here.
func loadLayout(dir, ref string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	desc, err := pickManifest(im.Manifests, ref)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		return platformImage(idx, desc.Digest)
	}
	return idx.Image(desc.Digest)
}

func pickManifest(descs []v1.Descriptor, ref string) (v1.Descriptor, error) {
	var refs []string
	for _, d := range descs {
		r := d.Annotations[refAnnotation]
		if ref != "" && r == ref {
			return d, nil
		}
		refs = append(refs, r)
	}
	if ref == "" && len(descs) == 1 {
		return descs[0], nil
	}
	if ref == "" {
		return v1.Descriptor{}, fmt.Errorf("%w: %d images, name one of %q", ErrNoImage, len(descs), refs)
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %q (have %q)", ErrNoImage, ref, refs)
}

// platformImage picks the linux image for this machine's architecture from
// a nested multi-platform index.
func platformImage(parent v1.ImageIndex, h v1.Hash) (v1.Image, error) {
	idx, err := parent.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("%w: no linux/%s image in index %s", ErrNoImage, runtime.GOARCH, h)
}

func loadDockerArchive(file, ref string) (v1.Image, error) {
	var tag *name.Tag
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoImage, err)
		}
		tag = &t
	}
	return tarball.ImageFromPath(file, tag)
}

// extractLayout unpacks an oci-archive (a tar of an OCI layout) into a new
// directory in tempDir with layers.Unpack, under the extraction policy
// every archive gets. A layout holds only blobs and small JSON files, so
// its content cannot honestly be larger than the archive itself: that is
// the size cap.
func extractLayout(ctx context.Context, file, tempDir string) (_ string, retErr error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(tempDir, "oci-archive-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			fsutil.RemoveAll(dir)
		}
	}()
	opts := []layers.UnpackOption{layers.WithContext(ctx), layers.WithMaxSize(max(fi.Size(), 1))}
	if err := layers.Unpack(f, dir, opts...); err != nil {
		return "", fmt.Errorf("extracting %s: %w", file, err)
	}
	return dir, nil
}
