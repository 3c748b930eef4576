package stacks

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
)

// ErrNotTarball is returned when a rootfs file is not a tar archive (plain,
// gzip or zstd compressed) with at least one entry.
var ErrNotTarball = errors.New("not a rootfs tarball")

// tarballCreatedBy is the history entry of a stack made from a tarball. It
// does not name the file: the same bytes must give the same image.
const tarballCreatedBy = "paas: root filesystem tarball"

// FromTarball makes a one-layer OCI stack image from a root filesystem
// tarball (plain, .gz or .zst, recognised by content). The layer is the
// tarball gzip-compressed deterministically (a gzip tarball is kept as it
// is), so the same tarball always gives the same digests. The layer blob is
// spooled to a file in tempDir, which must outlive the image.
func FromTarball(path, tempDir string) (v1.Image, error) {
	return fromTarball(path, tempDir, nil, tarballCreatedBy)
}

func fromTarball(path, tempDir string, labels map[string]string, createdBy string) (v1.Image, error) {
	layer, err := spoolLayer(path, tempDir)
	if err != nil {
		return nil, fmt.Errorf("reading rootfs tarball %s: %w", path, err)
	}
	return stackImage(layer, labels, createdBy)
}

// stackImage wraps one layer in an OCI image with a stack config.
func stackImage(layer v1.Layer, labels map[string]string, createdBy string) (v1.Image, error) {
	cfg := stackConfig(labels)
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting stack config: %w", err)
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: cfg.Created, CreatedBy: createdBy},
	})
}

// compression is how a tarball's bytes are encoded.
type compression int

const (
	plain compression = iota
	gzipped
	zstandard
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// sniff tells the compression from the first bytes, not the file name:
// mmdebstrap and users name files freely.
func sniff(br *bufio.Reader) compression {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return gzipped
	case bytes.HasPrefix(head, zstdMagic):
		return zstandard
	}
	return plain
}

// spoolLayer writes the gzip layer blob of the tarball at path to a new file
// in tempDir in one streaming pass, hashing both the compressed and the
// uncompressed bytes on the way and checking that they form a tar archive.
func spoolLayer(path, tempDir string) (_ *fileLayer, retErr error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	out, err := os.CreateTemp(tempDir, "stack-layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	defer func() {
		if retErr != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	file := &stickyWriter{w: out}
	buf := bufio.NewWriterSize(file, 1<<20)
	blob := fsutil.NewDigester()
	diffID := fsutil.NewDigester()
	if err := encodeLayer(bufio.NewReaderSize(src, 1<<20), io.MultiWriter(buf, blob), diffID); err != nil {
		if file.err != nil {
			// The write failed (a full disk), not the tarball.
			return nil, fmt.Errorf("writing layer file: %w", file.err)
		}
		return nil, err
	}
	if err := buf.Flush(); err != nil {
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	return &fileLayer{
		path:   out.Name(),
		digest: blob.Digest(),
		diffID: diffID.Digest(),
		size:   blob.Size(),
	}, nil
}

// encodeLayer copies the tarball in br to blob as gzip and writes its
// uncompressed bytes to diffID.
func encodeLayer(br *bufio.Reader, blob io.Writer, diffID io.Writer) error {
	switch sniff(br) {
	case gzipped:
		raw := io.TeeReader(br, blob)
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotTarball, err)
		}
		if err := checkTar(io.TeeReader(zr, diffID)); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, raw) // bytes after the gzip stream belong to the blob too
		return err
	case zstandard:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotTarball, err)
		}
		defer zr.Close()
		return compressTar(zr, blob, diffID)
	}
	return compressTar(br, blob, diffID)
}

// compressTar gzips the tar stream r into blob, also writing it to diffID,
// with the compressor of the layers paas builds: on every core, and with
// bytes that depend only on the tar stream, so a stack's digest is the
// same on every machine.
func compressTar(r io.Reader, blob io.Writer, diffID io.Writer) error {
	zw, err := layers.NewCompressor(blob, layers.Gzip)
	if err != nil {
		return err
	}
	if err := checkTar(io.TeeReader(r, io.MultiWriter(diffID, zw))); err != nil {
		return err
	}
	return zw.Close()
}

// checkTar reads r to its end, failing unless it starts with a valid tar
// archive of at least one entry.
func checkTar(r io.Reader) error {
	tr := tar.NewReader(r)
	entries := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotTarball, err)
		}
		entries++
	}
	if entries == 0 {
		return fmt.Errorf("%w: no entries", ErrNotTarball)
	}
	// The end-of-archive blocks and any padding are part of the layer.
	_, err := io.Copy(io.Discard, r)
	return err
}

// stickyWriter remembers the first error writing to w. A write error comes
// back through the tar reader that tees into the blob, where it would be
// taken for a malformed tarball.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (sw *stickyWriter) Write(p []byte) (int, error) {
	n, err := sw.w.Write(p)
	if err != nil && sw.err == nil {
		sw.err = err
	}
	return n, err
}
