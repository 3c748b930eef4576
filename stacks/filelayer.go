package stacks

// This file holds a small file-backed v1.Layer. The layers package is meant
// to own such a type; this one is unexported so it can be swapped for it.

import (
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// fileLayer is a gzip-compressed layer blob in a file whose digests were
// computed while it was written, so nothing rereads the blob to describe it.
type fileLayer struct {
	path   string
	digest v1.Hash // sha256 of the file (the compressed blob)
	diffID v1.Hash // sha256 of the uncompressed tar
	size   int64
}

var _ v1.Layer = (*fileLayer)(nil)

// Digest returns the sha256 of the compressed blob.
func (l *fileLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed tar stream.
func (l *fileLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size returns the size of the compressed blob.
func (l *fileLayer) Size() (int64, error) { return l.size, nil }

// MediaType is the OCI gzip layer type.
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Compressed opens the blob file.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("opening layer blob: %w", err)
	}
	return f, nil
}

// Uncompressed opens the blob file and decompresses it as it is read.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("opening layer blob: %w", err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading layer blob %s: %w", l.path, err)
	}
	return &gzipFile{Reader: zr, file: f}, nil
}

// gzipFile closes both the decompressor and the file under it.
type gzipFile struct {
	*gzip.Reader
	file *os.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.file.Close(); err == nil {
		err = cerr
	}
	return err
}
