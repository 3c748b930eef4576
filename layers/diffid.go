package layers

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/fsutil"
)

// ErrDiffIDMismatch is returned (wrapped) when a layer's uncompressed bytes
// do not hash to the DiffID its image promises: the blob is corrupt, or an
// image claims another image's DiffIDs to poison a cache keyed by them.
var ErrDiffIDMismatch = errors.New("layer content does not match its diff ID")

// DiffIDReader passes a layer's uncompressed stream through, hashing it, so
// that a consumer that cannot take WithDiffID (sandbox.Unpack reads the tar
// in another process) can still check the DiffID afterwards with Verify.
type DiffIDReader struct {
	r    io.Reader // tees into d
	d    *fsutil.Digester
	want v1.Hash
}

// VerifyDiffID returns a reader of r that checks it against want.
func VerifyDiffID(r io.Reader, want v1.Hash) (*DiffIDReader, error) {
	if err := checkDiffID(want); err != nil {
		return nil, err
	}
	d := fsutil.NewDigester()
	return &DiffIDReader{r: io.TeeReader(r, d), d: d, want: want}, nil
}

// checkDiffID accepts the only DiffID algorithm OCI images use.
func checkDiffID(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 2*sha256.Size {
		return fmt.Errorf("diff ID %q: not a sha256 digest: %w", h, ErrInvalidOption)
	}
	return nil
}

func (d *DiffIDReader) Read(p []byte) (int, error) { return d.r.Read(p) }

// Verify reads what is left of the stream (a tar reader stops at the end
// marker, padding may follow) and fails with ErrDiffIDMismatch unless all
// of it hashed to the DiffID.
func (d *DiffIDReader) Verify() error {
	if _, err := io.Copy(io.Discard, d); err != nil {
		return fmt.Errorf("reading layer %s: %w", d.want, err)
	}
	if got := d.d.Digest(); got != d.want {
		return fmt.Errorf("layer %s: %w: content hashes to %s", d.want, ErrDiffIDMismatch, got)
	}
	return nil
}
