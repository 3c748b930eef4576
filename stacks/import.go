package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/oci"
)

var (
	// ErrUnsupportedSource is returned for a source that is neither a file
	// nor one of the transports oci.Load reads.
	ErrUnsupportedSource = errors.New("unsupported stack source")
	// ErrNoImage is returned when a layout or archive does not hold the
	// image asked for, or holds several and none was named.
	ErrNoImage = errors.New("no such image")
)

// Import loads a stack image from source: a rootfs tarball path (see
// FromTarball) or one of the transports oci.Load reads, oci:DIR[:REF],
// oci-archive:FILE[:REF] or docker-archive:FILE[:NAME:TAG]. Images from
// layouts and archives are returned unchanged, layers and digests included,
// so importing a published stack keeps its identity; their blobs are read
// from source, which must outlive the image. tempDir holds the layers
// spooled from a tarball, and must outlive the image too.
func Import(ctx context.Context, source, tempDir string) (v1.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, err := importSource(source, tempDir)
	if err != nil {
		return nil, fmt.Errorf("importing stack %q: %w", source, err)
	}
	if _, err := img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("importing stack %q: reading config: %w", source, err)
	}
	return img, nil
}

func importSource(source, tempDir string) (v1.Image, error) {
	if oci.IsTransport(source) {
		return load(source)
	}
	if _, err := os.Stat(source); err != nil && looksLikeTransport(source) {
		return nil, ErrUnsupportedSource
	}
	return FromTarball(source, tempDir)
}

// load reads a transport source with oci.Load; a layout or archive that
// does not hold the image asked for, holds several and none was named, or
// is asked for a name that cannot be a tag, gives ErrNoImage.
func load(source string) (v1.Image, error) {
	img, err := oci.Load(source)
	for _, e := range []error{oci.ErrNotFound, oci.ErrAmbiguous, oci.ErrInvalidName} {
		if errors.Is(err, e) {
			return nil, fmt.Errorf("%w: %w", ErrNoImage, err)
		}
	}
	return img, err
}

// looksLikeTransport tells "docker://x" or "containers-storage:x", which
// no file is named, from a file name.
func looksLikeTransport(s string) bool {
	t, _, ok := strings.Cut(s, ":")
	return ok && t != "" && !strings.ContainsAny(t, "/.")
}
