package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Digester is an io.Writer that computes the SHA-256 digest and the size of
// what is written to it, so content can be named and checked against a
// descriptor while it streams past (with io.MultiWriter or io.TeeReader).
type Digester struct {
	h hash.Hash
	n int64
}

// NewDigester returns a Digester that has seen nothing.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

// Write hashes and counts p; it never fails.
func (d *Digester) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

// Digest returns the digest of what was written so far.
func (d *Digester) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(d.h.Sum(nil))}
}

// Size returns how many bytes were written so far.
func (d *Digester) Size() int64 { return d.n }
