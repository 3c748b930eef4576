package layers

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"

	"github.com/klauspost/compress/flate"
)

// Gzip layers are compressed on every core and still come out byte for byte
// the same on every machine (SPEC.md §4, "Reproducibility").
//
// The tar stream is cut into blocks of at most gzipMaxBlock bytes, where
// tarCuts says (gzipcuts.go): a function of the stream's bytes, whatever the
// sizes of the writes. Each block is deflated by a compressor reset for it
// and primed with the last gzipDictSize bytes of the block before, and ends
// with a sync flush; the last block, full or not (empty when the stream
// ends at a cut), also ends the deflate stream. The pieces are written in
// order between one gzip header and one trailer: the blob is a single
// ordinary gzip member that every decoder reads as one stream. A block's
// bytes are a function of its content, the previous block's tail and
// gzipLevel alone, so neither the number of blocks in flight, nor
// GOMAXPROCS, nor which goroutine compressed which block can reach them.
// On a stream that is not tar, blocks are cut every gzipMaxBlock bytes:
// the framing github.com/klauspost/pgzip writes with the same level and
// block size. The tests hold the output to pgzip's there, and on tar
// streams to a serial, block by block construction.
const (
	// gzipLevel is deflate's fastest. On the Go toolchain's tree (232 MB
	// in 15k files) it writes 78.5 MB, against 76.1 MB at level 2, 74.2 MB
	// at level 3 and 69.7 MB at the default level: 12% more bytes than the
	// default, for a third less CPU (deflate alone: ~130 MB per CPU-second
	// against ~85; the whole export ~95 against ~70). On a machine of few
	// cores the export is bound by CPU, so that is what sets its speed
	// (BenchmarkExportGoroot). Level 2 saves 3% of the bytes for 3-4% more
	// CPU: not worth leaving the fastest level, the one the streaming
	// limit is measured at. A build always waits for the compressor, while
	// a push or pull is rarely held up by a tenth more bytes; and
	// `--compression zstd` is there for smaller layers.
	gzipLevel = flate.BestSpeed
	// gzipDictSize is how much of the previous block primes the next.
	gzipDictSize = 16 << 10
	// maxGzipWorkers bounds the blocks in flight, and with them memory:
	// each costs about 4 MiB (the block, its compressed copy and a deflate
	// compressor's 1.8 MiB of tables), the one being filled 2 MiB.
	maxGzipWorkers = 8
)

// gzipWorkers is how many blocks may be compressed at once: one per core,
// while the caller's goroutine tars the next block; at least 2, so that even
// one core overlaps reading with compressing. It changes the speed, never
// the bytes.
func gzipWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 2), maxGzipWorkers)
}

// parallelGzip is an io.WriteCloser that gzips what is written to it, with
// up to workers blocks compressed at once, each on its own goroutine. The
// compressed blocks are written to w in order by the goroutine calling Write
// and Close, so memory is bounded by workers+1 blocks and workers deflate
// compressors whatever the size of the stream, all allocated once and
// reused, and an error writing to w comes back from Write or Close.
type parallelGzip struct {
	w        io.Writer
	level    int
	workers  int
	cur      *gzipBlock      // the block being filled, nil between blocks
	pending  []*gzipBlock    // blocks being compressed, oldest first
	free     []*gzipBlock    // blocks written out, for reuse
	idle     []*flate.Writer // compressors of blocks written out
	tail     []byte          // the last gzipDictSize bytes of the block before cur
	crc      uint32
	size     uint32 // modulo 2^32, as RFC 1952's ISIZE
	started  bool   // the header is written
	finished bool   // Close was called
	err      error
	// keyed makes each block's key (blockKey) and records the blocks in
	// made; known, when not nil, gives back blocks made before, which are
	// then not compressed again.
	keyed  bool
	known  Blocks
	made   []Block
	offset int64 // of the next block in the output
	cuts   tarCuts
}

// gzipBlock is one block of input and its compressed bytes. It holds a
// compressor only while in flight, so there are at most workers of those.
type gzipBlock struct {
	in    []byte
	dict  []byte
	out   bytes.Buffer
	zw    *flate.Writer
	level int
	last  bool
	done  chan struct{}
	err   error
	keyed bool
	known Blocks
	key   BlockKey
	sum   BlockSum // of out, when keyed
}

// newGzip returns a parallel gzip compressor writing to w that keeps at most
// workers blocks in flight.
func newGzip(w io.Writer, workers int) (io.WriteCloser, error) {
	if workers < 1 {
		return nil, errors.New("gzip: workers must be at least 1")
	}
	return &parallelGzip{w: w, level: gzipLevel, workers: workers}, nil
}

// newGzipReusing is newGzip whose blocks are keyed and recorded (Blocks),
// taking the bytes known has for a block instead of compressing it.
func newGzipReusing(w io.Writer, workers int, known Blocks) (*parallelGzip, error) {
	z, err := newGzip(w, workers)
	if err != nil {
		return nil, err
	}
	g := z.(*parallelGzip)
	g.keyed, g.known = true, known
	return g, nil
}

// Blocks lists the blocks written, once Close has returned.
func (z *parallelGzip) Blocks() []Block { return z.made }

// Write buffers p into blocks, starting the compression of each as it
// fills. It blocks while workers blocks are in flight.
func (z *parallelGzip) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.finished {
		return 0, errors.New("gzip: write after close")
	}
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(len(p))
	n := len(p)
	for len(p) > 0 {
		if z.cur == nil {
			z.cur = z.nextBlock()
		}
		b := z.cur
		k := z.cuts.limit(min(len(p), gzipMaxBlock-len(b.in)))
		if len(b.in)+k > cap(b.in) {
			// A block starts small, for small layers, and grows once.
			grown := make([]byte, len(b.in), gzipMaxBlock)
			copy(grown, b.in)
			b.in = grown
		}
		b.in = append(b.in, p[:k]...)
		z.cuts.see(p[:k])
		p = p[k:]
		if len(b.in) == gzipMaxBlock || len(b.in) >= gzipMinBlock && z.cuts.atPickedEnd() {
			if err := z.dispatch(false); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// Close compresses the last block, writes every block still in flight and
// the gzip trailer. It does not close the underlying writer.
func (z *parallelGzip) Close() error {
	if z.finished {
		return z.err
	}
	z.finished = true
	if z.err != nil {
		return z.err
	}
	if z.cur == nil {
		z.cur = z.nextBlock()
	}
	if err := z.dispatch(true); err != nil {
		return err
	}
	for len(z.pending) > 0 {
		if err := z.writeOldest(); err != nil {
			return err
		}
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[0:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:8], z.size)
	if _, err := z.w.Write(trailer[:]); err != nil {
		z.err = err
	}
	return z.err
}

// nextBlock returns an empty block to fill: one already written out, or a
// new one while fewer than workers+1 exist.
func (z *parallelGzip) nextBlock() *gzipBlock {
	if n := len(z.free); n > 0 {
		b := z.free[n-1]
		z.free = z.free[:n-1]
		b.in = b.in[:0]
		return b
	}
	return &gzipBlock{in: make([]byte, 0, 64<<10)}
}

// dispatch starts compressing cur, first writing out the oldest blocks
// until fewer than workers are in flight.
func (z *parallelGzip) dispatch(last bool) error {
	for len(z.pending) >= z.workers {
		if err := z.writeOldest(); err != nil {
			return err
		}
	}
	b := z.cur
	z.cur = nil
	b.dict = append(b.dict[:0], z.tail...)
	z.tail = append(z.tail[:0], b.in[max(len(b.in)-gzipDictSize, 0):]...)
	b.level, b.last = z.level, last
	b.keyed, b.known = z.keyed, z.known
	if n := len(z.idle); n > 0 {
		b.zw = z.idle[n-1]
		z.idle = z.idle[:n-1]
	}
	b.done = make(chan struct{})
	z.pending = append(z.pending, b)
	go b.compress()
	return nil
}

// writeOldest waits for the oldest block in flight and writes it out,
// after the gzip header when it is the first.
func (z *parallelGzip) writeOldest() error {
	b := z.pending[0]
	z.pending = append(z.pending[:0], z.pending[1:]...)
	<-b.done
	z.free = append(z.free, b)
	if b.zw != nil {
		z.idle = append(z.idle, b.zw)
		b.zw = nil
	}
	if b.err != nil {
		z.err = b.err
		return z.err
	}
	if !z.started {
		z.started = true
		header := gzipHeader(z.level)
		if _, err := z.w.Write(header); err != nil {
			z.err = err
			return err
		}
		z.offset = int64(len(header))
	}
	if _, err := z.w.Write(b.out.Bytes()); err != nil {
		z.err = err
	}
	if z.keyed {
		z.made = append(z.made, Block{Key: b.key, Sum: b.sum, Offset: z.offset, Length: int64(b.out.Len())})
	}
	z.offset += int64(b.out.Len())
	return z.err
}

// compress deflates b.in into b.out, primed with b.dict, unless b.known
// has the bytes already.
func (b *gzipBlock) compress() {
	defer close(b.done)
	b.out.Reset()
	if b.keyed {
		b.key = blockKey(b.level, b.last, b.dict, b.in)
		if b.known != nil {
			if out, sum := b.known.Block(b.key); out != nil {
				b.out.Write(out)
				b.sum = sum
				return
			}
		}
		defer func() { b.sum = sha256.Sum256(b.out.Bytes()) }()
	}
	b.out.Grow(len(b.in) + len(b.in)>>4 + 64) // deflate never grows data by as much
	if b.zw == nil {
		b.zw, b.err = flate.NewWriter(nil, b.level)
		if b.err != nil {
			return
		}
	}
	// ResetDict leaves the compressor as flate.NewWriterDict would make it,
	// whatever it compressed before.
	b.zw.ResetDict(&b.out, b.dict)
	if _, b.err = b.zw.Write(b.in); b.err != nil {
		return
	}
	if b.err = b.zw.Flush(); b.err != nil || !b.last {
		return
	}
	b.err = b.zw.Close()
}

// gzipHeader is RFC 1952's header with no name, comment or extra field,
// mtime 0 ("none"), the extra flags of level and OS 255 ("unknown"):
// nothing about the machine or the time.
func gzipHeader(level int) []byte {
	xfl := byte(0)
	switch level {
	case flate.BestSpeed:
		xfl = 4
	case flate.BestCompression:
		xfl = 2
	}
	return []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255}
}
