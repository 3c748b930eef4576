package oci

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/fsutil"
)

// ErrDigestMismatch reports content whose digest or size differs from the
// descriptor that names it: a corrupt blob or a lying v1.Layer.
var ErrDigestMismatch = errors.New("digest mismatch")

// checkDigest compares what d saw with want and wantSize; a negative
// wantSize is not checked.
func checkDigest(d *fsutil.Digester, want v1.Hash, wantSize int64) error {
	if got := d.Digest(); got != want {
		return fmt.Errorf("%w: got %s, want %s", ErrDigestMismatch, got, want)
	}
	if wantSize >= 0 && d.Size() != wantSize {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrDigestMismatch, want, d.Size(), wantSize)
	}
	return nil
}

func checkAlgorithm(h v1.Hash) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("digest %s: only sha256 is supported", h)
	}
	return nil
}

// verifyingReader returns rc's content and fails at its end when the content
// does not match want, so a corrupt blob never reads as good.
type verifyingReader struct {
	rc   io.ReadCloser
	d    *fsutil.Digester
	want v1.Hash
	size int64
}

func newVerifyingReader(rc io.ReadCloser, want v1.Hash, size int64) io.ReadCloser {
	return &verifyingReader{rc: rc, d: fsutil.NewDigester(), want: want, size: size}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	_, _ = v.d.Write(p[:n]) // a Digester never fails
	if err == io.EOF {
		if cerr := checkDigest(v.d, v.want, v.size); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// readAllVerified reads a small blob (manifest, config, index) whole and
// checks it against want.
func readAllVerified(rc io.ReadCloser, want v1.Hash, size int64) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(newVerifyingReader(rc, want, size))
}

// ctxReader stops a copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
