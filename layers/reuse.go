package layers

import (
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/fsutil"
)

// Reuse remembers layers made before, so that FromDir and FromFiles can
// return one of them instead of compressing the same content again
// (WithReuse). Compressor names the exact compressed output a layer would
// get (CompressorID): a layer made by another compressor, or at another
// level, holds the same content in other bytes and must not be given back,
// or a build would give another digest with a cache than without.
type Reuse interface {
	// Maybe reports whether a layer whose entry headers hash to headers
	// may be known. Headers are every tar header's fields, without the
	// files' content: when they differ, so does the tar stream, and
	// FromDir compresses at once instead of hashing the content first.
	Maybe(compressor string, headers v1.Hash) bool
	// Layer returns a layer whose uncompressed tar stream hashes to
	// diffID, compressed by compressor, or nil.
	Layer(compressor string, diffID v1.Hash) v1.Layer
	// Made is told of every layer FromDir or FromFiles returns under
	// WithReuse, found or new, with the hash of its headers.
	Made(compressor string, headers v1.Hash, l v1.Layer)
}

// BlockReuse is a Reuse that also gives back the gzip blocks of layers
// made before (Blocks): a layer whose content changed is then compressed
// only where it changed.
type BlockReuse interface {
	Reuse
	// Blocks returns the blocks compressor made before, nil if none.
	Blocks(compressor string) Blocks
}

// WithReuse makes FromDir and FromFiles look for the layer in r before
// compressing. When r is a BlockReuse and the compression gzip, they make
// the layer in one pass that compresses only the blocks r does not know,
// and return instead the layer r has for the DiffID that pass gave, if any
// (see blockwise). Otherwise they walk the tree once hashing only the entry
// headers; when r may know a layer with those headers, they hash the whole
// tar stream without compressing it and return the layer r has for that
// DiffID, so nothing is compressed; else they make the layer as without
// WithReuse. Layers made under a BlockReuse list their blocks (MadeBlocks).
// Either way the result has the DiffID the content gives and the bytes
// compressing it gives; Reused tells which it was.
func WithReuse(r Reuse) Option {
	return func(o *options) error {
		o.reuse = r
		return nil
	}
}

// Reused reports whether l was found through WithReuse rather than made.
func Reused(l v1.Layer) bool {
	_, ok := l.(*reusedLayer)
	return ok
}

// reusedLayer marks a layer given back by a Reuse.
type reusedLayer struct{ v1.Layer }

// CompressorID names the bytes NewCompressor writes for c. It changes
// whenever they change (TestCompressorID pins it to a digest), so layers
// compressed by an earlier paas are never taken for this one's.
func CompressorID(c Compression) string {
	switch c {
	case Gzip:
		return "gzip/paas-parallel-flate-1-tar-cuts-512KiB-1MiB"
	case Zstd:
		return "zstd/klauspost-default-2"
	}
	return string(c)
}

// makeLayer makes the layer that write describes: one found through
// o.reuse when it knows it, else a new one spooled to o.tempDir.
func makeLayer(o *options, write func(tw *tarWriter) error) (v1.Layer, error) {
	if o.reuse == nil {
		l, err := spool(o, write)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return l, nil
	}
	mt, err := mediaType(o.compression)
	if err != nil {
		return nil, err
	}
	compressor := CompressorID(o.compression)
	if blockwise(o) {
		// One pass makes the layer, taking unchanged blocks, and gives
		// the DiffID to look for (see blockwise).
		l, err := spool(o, write)
		if err != nil {
			return nil, err
		}
		if r := found(o, compressor, l.headers, l.diffID, mt); r != nil {
			os.Remove(l.path)
			return r, nil
		}
		o.reuse.Made(compressor, l.headers, l)
		return l, nil
	}
	// The header pass, which always runs, says what it skips; the passes
	// after it visit the same entries and keep quiet.
	headers, err := hashPass(newHeaderHasher, o, write)
	if err != nil {
		return nil, err
	}
	quiet := *o
	quiet.warn = func(string) {}
	if o.reuse.Maybe(compressor, headers) {
		diffID, err := hashPass(newTarWriter, &quiet, write)
		if err != nil {
			return nil, err
		}
		if r := found(o, compressor, headers, diffID, mt); r != nil {
			return r, nil
		}
	}
	l, err := spool(&quiet, write)
	if err != nil {
		return nil, err
	}
	o.reuse.Made(compressor, headers, l)
	return l, nil
}

// blockwise reports whether spool takes unchanged gzip blocks from o.reuse
// instead of compressing them. Then one pass that compresses only what
// changed costs little more than a pass that only hashes the tar stream,
// and less than the header pass and that one together: makeLayer runs only
// it and looks for the layer by the DiffID it gave, rather than reading
// every file twice when the content changed.
func blockwise(o *options) bool {
	_, ok := o.reuse.(BlockReuse)
	return ok && o.compression == Gzip && o.compressor == nil
}

// found returns the layer o.reuse has for diffID, marked reused and told to
// o.reuse, or nil.
func found(o *options, compressor string, headers, diffID v1.Hash, mt types.MediaType) v1.Layer {
	l := o.reuse.Layer(compressor, diffID)
	if l == nil || !holds(l, diffID, mt) {
		return nil
	}
	r := &reusedLayer{l}
	o.reuse.Made(compressor, headers, r)
	return r
}

// hashPass runs write against a tarWriter made by newWriter over a sha256
// and returns the hash.
func hashPass(newWriter func(io.Writer, *options) *tarWriter, o *options, write func(tw *tarWriter) error) (v1.Hash, error) {
	d := fsutil.NewDigester()
	tw := newWriter(d, o)
	if err := write(tw); err != nil {
		return v1.Hash{}, err
	}
	if err := tw.Close(); err != nil {
		return v1.Hash{}, err
	}
	return d.Digest(), nil
}

// holds checks what a Reuse gave back against what was asked for.
func holds(l v1.Layer, diffID v1.Hash, mt types.MediaType) bool {
	got, err := l.DiffID()
	if err != nil || got != diffID {
		return false
	}
	m, err := l.MediaType()
	return err == nil && m == mt
}
