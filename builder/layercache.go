package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// layerRecordVersion is the format of the layer record; a record of
// another version is ignored.
const layerRecordVersion = 2

// layerRecord is what paas keeps of an app's last export
// (home.LayerCache): each of its own layers, by the hashes that find it
// again, and the blob in the store that holds it.
type layerRecord struct {
	Version int             `json:"version"`
	Layers  []recordedLayer `json:"layers"`
}

// recordedLayer is one layer paas compressed: Headers hash its tar
// headers and DiffID its whole tar stream, both computed by paas itself
// while making the blob Digest with Compressor (layers.CompressorID).
type recordedLayer struct {
	Compressor string          `json:"compressor"`
	Headers    v1.Hash         `json:"headers"`
	DiffID     v1.Hash         `json:"diff_id"`
	Digest     v1.Hash         `json:"digest"`
	Size       int64           `json:"size"`
	MediaType  types.MediaType `json:"media_type"`
	// Blocks are the gzip blocks of the blob (layers.Block), where
	// recorded: a changed layer takes the unchanged ones again.
	Blocks []recordedBlock `json:"blocks,omitempty"`
}

// recordedBlock is a layers.Block: its key and sum in hex, and where its
// bytes are in the blob.
type recordedBlock struct {
	Key    string `json:"key"`
	Sum    string `json:"sum"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// layerCache is a layers.Reuse over the store and an app's layer record:
// it gives back the store's blob of a layer the last export made, and
// remembers this export's layers for the next.
type layerCache struct {
	store *oci.Store
	path  string
	known []recordedLayer

	mu   sync.Mutex
	made []recordedLayer

	blocksOnce sync.Once
	blocks     map[layers.BlockKey]blockAt // the known layers' blocks
	blobMu     sync.Mutex
	blobs      map[v1.Hash]*os.File // opened; nil: unusable
}

// blockAt is where a known block's bytes are, and their sum.
type blockAt struct {
	layer          *recordedLayer
	sum            layers.BlockSum
	offset, length int64
}

var _ layers.BlockReuse = (*layerCache)(nil)

// openLayerCache reads the record at path; empty (--no-cache) starts from
// nothing. A record that is missing or unreadable is as good as empty: a
// layer not found is compressed, which is always right.
func openLayerCache(store *oci.Store, path string, empty bool) *layerCache {
	c := &layerCache{store: store, path: path}
	if empty {
		return c
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var r layerRecord
	if json.Unmarshal(data, &r) == nil && r.Version == layerRecordVersion {
		c.known = r.Layers
	}
	return c
}

// Maybe reports whether the last export made a layer with these headers.
func (c *layerCache) Maybe(compressor string, headers v1.Hash) bool {
	for _, l := range c.known {
		if l.Compressor == compressor && l.Headers == headers {
			return true
		}
	}
	return false
}

// Layer returns the store's blob of the last export's layer diffID, or nil
// when there was none or the store no longer holds it.
func (c *layerCache) Layer(compressor string, diffID v1.Hash) v1.Layer {
	for _, l := range c.known {
		if l.Compressor != compressor || l.DiffID != diffID {
			continue
		}
		layer, err := c.store.Layer(v1.Descriptor{MediaType: l.MediaType, Size: l.Size, Digest: l.Digest}, l.DiffID)
		if err == nil {
			return layer
		}
	}
	return nil
}

// Blocks gives back the gzip blocks of the last export's layers.
func (c *layerCache) Blocks(compressor string) layers.Blocks {
	c.blocksOnce.Do(func() {
		c.blocks = map[layers.BlockKey]blockAt{}
		for i := range c.known {
			l := &c.known[i]
			if l.Compressor != compressor {
				continue
			}
			for _, b := range l.Blocks {
				var k layers.BlockKey
				var sum layers.BlockSum
				if hexInto(k[:], b.Key) && hexInto(sum[:], b.Sum) {
					c.blocks[k] = blockAt{layer: l, sum: sum, offset: b.Offset, length: b.Length}
				}
			}
		}
	})
	if len(c.blocks) == 0 {
		return nil
	}
	return c
}

// maxBlockBytes bounds a recorded block's length: deflate at level 1
// never grows a 1 MiB block by much. A record claiming more is damaged.
const maxBlockBytes = 2 << 20

// hexInto decodes s into exactly len(dst) bytes.
func hexInto(dst []byte, s string) bool {
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// Block reads a block of a blob in the store and checks it against the
// sum recorded when it was made; nil when the store lost the blob or the
// block's bytes changed. Each block is checked as it is taken, on the
// compressor's workers, rather than the whole blob before the first.
func (c *layerCache) Block(key layers.BlockKey) ([]byte, layers.BlockSum) {
	at, ok := c.blocks[key]
	if !ok || at.length <= 0 || at.length > maxBlockBytes {
		return nil, layers.BlockSum{}
	}
	f := c.blob(at.layer)
	if f == nil {
		return nil, layers.BlockSum{}
	}
	buf := make([]byte, at.length)
	if _, err := f.ReadAt(buf, at.offset); err != nil || sha256.Sum256(buf) != at.sum {
		return nil, layers.BlockSum{}
	}
	return buf, at.sum
}

// blob opens the blob of a known layer once.
func (c *layerCache) blob(l *recordedLayer) *os.File {
	c.blobMu.Lock()
	defer c.blobMu.Unlock()
	if c.blobs == nil {
		c.blobs = map[v1.Hash]*os.File{}
	}
	f, seen := c.blobs[l.Digest]
	if !seen {
		f, _ = c.store.OpenBlob(l.Digest, l.Size) // nil on failure: its blocks are compressed again
		c.blobs[l.Digest] = f
	}
	return f
}

// close closes the blobs Block opened.
func (c *layerCache) close() {
	c.blobMu.Lock()
	defer c.blobMu.Unlock()
	for _, f := range c.blobs {
		if f != nil {
			f.Close()
		}
	}
	c.blobs = nil
}

// Made remembers a layer of this export.
func (c *layerCache) Made(compressor string, headers v1.Hash, l v1.Layer) {
	r := recordedLayer{Compressor: compressor, Headers: headers}
	var err1, err2, err3, err4 error
	r.DiffID, err1 = l.DiffID()
	r.Digest, err2 = l.Digest()
	r.Size, err3 = l.Size()
	r.MediaType, err4 = l.MediaType()
	if errors.Join(err1, err2, err3, err4) != nil {
		return // not remembered: compressed again next time
	}
	r.Blocks = c.blocksOf(l, r.Digest)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.made = append(c.made, r)
}

// blocksOf lists the gzip blocks of a layer made (layers.MadeBlocks), or
// of a known one given back whole.
func (c *layerCache) blocksOf(l v1.Layer, digest v1.Hash) []recordedBlock {
	if mb, ok := l.(layers.MadeBlocks); ok {
		out := make([]recordedBlock, 0, len(mb.Blocks()))
		for _, b := range mb.Blocks() {
			out = append(out, recordedBlock{Key: hex.EncodeToString(b.Key[:]), Sum: hex.EncodeToString(b.Sum[:]), Offset: b.Offset, Length: b.Length})
		}
		return out
	}
	for _, k := range c.known {
		if k.Digest == digest {
			return k.Blocks
		}
	}
	return nil
}

// save replaces the record with this export's layers. Call it only once
// the store holds them.
func (c *layerCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := json.Marshal(layerRecord{Version: layerRecordVersion, Layers: c.made})
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileData(c.path, 0o644, data); err != nil {
		return fmt.Errorf("recording the layers for the next build: %w", err)
	}
	return nil
}
