package layers

import (
	"bufio"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/paas-dev/paas/fsutil"
)

// zstdConcurrency is pinned rather than left at GOMAXPROCS so that nothing
// about the machine can reach the compressed stream.
const zstdConcurrency = 2

// mediaType returns the OCI layer media type of compression c.
func mediaType(c Compression) (types.MediaType, error) {
	switch c {
	case Gzip:
		return types.OCILayer, nil
	case Zstd:
		return types.OCILayerZStd, nil
	}
	return "", fmt.Errorf("compression %q: %w", c, ErrInvalidOption)
}

// NewCompressor wraps w in compression c. It is the one place that picks a
// compressor implementation: gzip is the parallel one of compress.go.
func NewCompressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return newGzip(w, gzipWorkers())
	case Zstd:
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(zstdConcurrency))
	}
	return nil, fmt.Errorf("compression %q: %w", c, ErrInvalidOption)
}

// newDecompressor is NewCompressor's inverse.
func newDecompressor(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewReader(r)
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("compression %q: %w", c, ErrInvalidOption)
}

// spooledLayer is a v1.Layer whose compressed bytes live in a file and whose
// hashes were computed while that file was written, so no accessor ever
// rehashes or recompresses.
type spooledLayer struct {
	path        string
	compression Compression
	mediaType   types.MediaType
	digest      v1.Hash
	diffID      v1.Hash
	headers     v1.Hash // of the tar headers' fields, as newHeaderHasher's
	size        int64
	blocks      []Block // with gzip under WithReuse
}

// Blocks lists the layer's gzip blocks, when they were recorded.
func (l *spooledLayer) Blocks() []Block { return l.blocks }

var _ v1.Layer = (*spooledLayer)(nil)

// Digest returns the sha256 of the compressed blob.
func (l *spooledLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed tar.
func (l *spooledLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size returns the compressed size in bytes.
func (l *spooledLayer) Size() (int64, error) { return l.size, nil }

// MediaType returns the OCI layer media type matching the compression.
func (l *spooledLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Path returns the file holding the compressed blob, so a store on the same
// filesystem can link or rename it instead of copying.
func (l *spooledLayer) Path() string { return l.path }

// Compressed opens the spooled blob.
func (l *spooledLayer) Compressed() (io.ReadCloser, error) {
	return os.Open(l.path)
}

// Uncompressed opens the spooled blob and decompresses it as it is read.
func (l *spooledLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	d, err := newDecompressor(bufio.NewReader(f), l.compression)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decompressing %s: %w", l.path, err)
	}
	return &stackedCloser{ReadCloser: d, under: f}, nil
}

// stackedCloser closes a decompressor and then the file under it.
type stackedCloser struct {
	io.ReadCloser
	under io.Closer
}

func (s *stackedCloser) Close() error {
	err := s.ReadCloser.Close()
	if uerr := s.under.Close(); err == nil {
		err = uerr
	}
	return err
}

// spool runs write against a tar stream that is hashed (DiffID), compressed,
// hashed again (Digest, Size) and written to a new file in o.tempDir, all in
// one pass. On failure the file is removed.
func spool(o *options, write func(tw *tarWriter) error) (_ *spooledLayer, retErr error) {
	mt, err := mediaType(o.compression)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(o.tempDir, "layer-*."+string(o.compression))
	if err != nil {
		return nil, fmt.Errorf("creating layer blob: %w", err)
	}
	defer func() {
		if cerr := f.Close(); retErr == nil && cerr != nil {
			retErr = fmt.Errorf("closing %s: %w", f.Name(), cerr)
		}
		if retErr != nil {
			os.Remove(f.Name())
		}
	}()
	buf := bufio.NewWriterSize(f, 1<<20)
	digest := fsutil.NewDigester()
	compress := o.compressor
	var gz *parallelGzip
	switch {
	case compress != nil:
	case o.reuse != nil && o.compression == Gzip:
		var known Blocks
		if br, ok := o.reuse.(BlockReuse); ok {
			known = br.Blocks(CompressorID(Gzip))
		}
		compress = func(w io.Writer) (io.WriteCloser, error) {
			var err error
			gz, err = newGzipReusing(w, gzipWorkers(), known)
			return gz, err
		}
	default:
		compress = func(w io.Writer) (io.WriteCloser, error) { return NewCompressor(w, o.compression) }
	}
	zw, err := compress(io.MultiWriter(buf, digest))
	if err != nil {
		return nil, err
	}
	diffID, headers := fsutil.NewDigester(), fsutil.NewDigester()
	tw := newTarWriter(io.MultiWriter(zw, diffID), o)
	tw.headers = headers
	if err := write(tw); err != nil {
		zw.Close()
		return nil, err
	}
	if err := closeAll(tw, zw); err != nil {
		return nil, err
	}
	if err := buf.Flush(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	l := &spooledLayer{
		path:        f.Name(),
		compression: o.compression,
		mediaType:   mt,
		digest:      digest.Digest(),
		diffID:      diffID.Digest(),
		headers:     headers.Digest(),
		size:        digest.Size(),
	}
	if gz != nil {
		l.blocks = gz.Blocks()
	}
	return l, nil
}

// closeAll closes the tar writer and then its compressor, in that order,
// because each flushes into the next.
func closeAll(tw *tarWriter, zw io.Closer) error {
	if err := tw.Close(); err != nil {
		zw.Close()
		return fmt.Errorf("finishing tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finishing compression: %w", err)
	}
	return nil
}
