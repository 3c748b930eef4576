package oci

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/paas-dev/paas/fsutil"
)

// Write writes img under name to dest, one of
//
//	oci:DIR               an OCI image layout, created or added to; the entry
//	                      is annotated org.opencontainers.image.ref.name=name
//	                      and replaces an older entry of that name
//	oci-archive:FILE      a tar of an OCI image layout holding img alone
//	docker-archive:FILE   a tar loadable by `docker load` and `ctr import`
//
// Archives are written to a temp file and renamed, so FILE is never half
// written. The image is written as it is: use OCI first for OCI-only tools.
func Write(ctx context.Context, img v1.Image, dest, name string) error {
	transport, path, err := ParseDest(dest)
	if err != nil {
		return err
	}
	if _, err := NormalizeName(name); err != nil {
		return err
	}
	switch transport {
	case TransportOCI:
		err = writeLayoutDir(ctx, img, path, name)
	case TransportOCIArchive:
		err = fsutil.WriteFile(path, 0o644, func(w io.Writer) error { return writeOCIArchive(ctx, img, w, name) })
	default:
		err = fsutil.WriteFile(path, 0o644, func(w io.Writer) error { return writeDockerArchive(ctx, img, w, name) })
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return nil
}

// refAnnotations names an entry of an OCI index for skopeo and umoci
// (ref.name) and for containerd (its fully qualified reference).
func refAnnotations(n string) map[string]string {
	a := map[string]string{AnnotationRefName: n}
	if named, err := reference.ParseNormalizedNamed(n); err == nil {
		a[AnnotationContainerdName] = reference.TagNameOnly(named).String()
	}
	return a
}

// writeLayoutDir adds img to the OCI layout at dir, creating the layout if
// dir is missing or empty.
func writeLayoutDir(ctx context.Context, img v1.Image, dir, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := openOrCreateLayout(dir)
	if err != nil {
		return err
	}
	return p.ReplaceImage(img, match.Annotation(AnnotationRefName, name), layout.WithAnnotations(refAnnotations(name)))
}

func openOrCreateLayout(dir string) (layout.Path, error) {
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("%s exists and is not an OCI image layout", dir)
	}
	return layout.Write(dir, empty.Index)
}

func writeDockerArchive(ctx context.Context, img v1.Image, w io.Writer, n string) error {
	tag, err := name.NewTag(n, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidName, n, err)
	}
	return tarball.Write(tag, img, ctxWriter{ctx, w})
}

// ctxWriter stops a write when its context is cancelled, for writers that
// take no context.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// archiveTime is the mtime of every entry of an OCI archive, so the same
// image always gives the same archive bytes.
var archiveTime = time.Unix(0, 0).UTC()

// writeOCIArchive streams an OCI layout holding img as a tar to w: layout
// files first, then layers, config and manifest, each layer read once and
// checked against its digest on the way.
func writeOCIArchive(ctx context.Context, img v1.Image, w io.Writer, name string) error {
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest, Annotations: refAnnotations(name)}
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{desc}})
	if err != nil {
		return err
	}
	layoutFile, _ := json.Marshal(specs.ImageLayout{Version: specs.ImageLayoutVersion})
	tw := tar.NewWriter(w)
	if err := writeTarFile(tw, specs.ImageLayoutFile, layoutFile); err != nil {
		return err
	}
	if err := writeTarFile(tw, specs.ImageIndexFile, index); err != nil {
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: archiveTime}); err != nil {
			return err
		}
	}
	if err := writeTarLayers(ctx, tw, img); err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, blobName(cfgName), cfg); err != nil {
		return err
	}
	if err := writeTarFile(tw, blobName(digest), raw); err != nil {
		return err
	}
	return tw.Close()
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func writeTarFile(tw *tar.Writer, name string, b []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: archiveTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeTarLayers writes each distinct layer blob of img once.
func writeTarLayers(ctx context.Context, tw *tar.Writer, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	seen := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := writeTarLayer(ctx, tw, d, l); err != nil {
			return fmt.Errorf("writing layer %s: %w", d, err)
		}
	}
	return nil
}

func writeTarLayer(ctx context.Context, tw *tar.Writer, d v1.Hash, l v1.Layer) error {
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobName(d), Mode: 0o644, Size: size, ModTime: archiveTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	dg := fsutil.NewDigester()
	if _, err := io.Copy(io.MultiWriter(tw, dg), ctxReader{ctx, rc}); err != nil {
		return err
	}
	return checkDigest(dg, d, size)
}
