package layers

import (
	"crypto/sha256"
	"encoding/binary"
)

// A changed layer is mostly the bytes of the layer before: with one file
// edited in place, every gzip block away from it has the same input and the
// same dictionary as last time, and so the same compressed bytes (see
// parallelGzip). Blocks finds those bytes again, so that only the blocks
// that changed are compressed. The output is byte for byte what
// compressing every block gives.

// BlockKey identifies a gzip block's compressed bytes: the SHA-256 of what
// determines them, the level, whether the block ends the stream, its
// dictionary and its input.
type BlockKey [sha256.Size]byte

// BlockSum is the SHA-256 of a block's compressed bytes: a block taken
// again is checked against the sum it had when it was made, so a damaged
// blob costs only its damaged blocks, and no block is trusted unchecked.
type BlockSum [sha256.Size]byte

// Block is one block of a gzip layer made: its key, the sum of its
// compressed bytes, and where they are in the blob.
type Block struct {
	Key            BlockKey
	Sum            BlockSum
	Offset, Length int64
}

// Blocks gives back the compressed bytes of blocks made before.
type Blocks interface {
	// Block returns the compressed bytes of the block with key, checked
	// against their sum, and that sum; nil when it knows none or the
	// bytes do not match. It is called from several goroutines at once.
	Block(key BlockKey) ([]byte, BlockSum)
}

// MadeBlocks is implemented by the layers FromDir and FromFiles make with
// gzip under WithReuse: it lists their blocks, for a Reuse to remember.
type MadeBlocks interface {
	Blocks() []Block
}

// blockKey hashes what determines a block's compressed bytes.
func blockKey(level int, last bool, dict, in []byte) BlockKey {
	h := sha256.New()
	var head [9]byte
	binary.LittleEndian.PutUint64(head[:8], uint64(int64(level)))
	if last {
		head[8] = 1
	}
	h.Write(head[:])
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(dict)))
	h.Write(n[:])
	h.Write(dict)
	h.Write(in)
	var k BlockKey
	h.Sum(k[:0])
	return k
}
