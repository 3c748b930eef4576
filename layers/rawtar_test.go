package layers

import (
	"bytes"
	"fmt"
)

// rawHeader is a tar header written byte by byte in the old GNU format,
// for entries archive/tar's writer refuses to make: sparse files and names
// with NUL in them.
type rawHeader struct {
	name     string
	typ      byte
	size     int64 // bytes of data that follow the header
	realSize int64 // a sparse file's length, holes included
	// sparse lists a sparse file's data fragments as offset, length pairs
	// (at most four: no extension headers).
	sparse [][2]int64
}

// bytes renders the 512-byte header block.
func (h rawHeader) bytes() []byte {
	b := make([]byte, 512)
	copy(b[0:100], h.name)
	octal(b[100:108], 0o644)
	octal(b[108:116], 0)
	octal(b[116:124], 0)
	octal(b[124:136], h.size)
	octal(b[136:148], DefaultEpoch.Unix())
	b[156] = h.typ
	copy(b[257:265], "ustar  \x00")
	for i, f := range h.sparse {
		octal(b[386+24*i:398+24*i], f[0])
		octal(b[398+24*i:410+24*i], f[1])
	}
	octal(b[483:495], h.realSize)
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// octal writes v as a NUL-terminated octal number filling field, or in
// GNU's base-256 form (high bit set, big-endian) when it does not fit.
func octal(field []byte, v int64) {
	if v < 1<<(3*(len(field)-1)) {
		copy(field, fmt.Sprintf("%0*o\x00", len(field)-1, v))
		return
	}
	for i := len(field) - 1; i > 0; i-- {
		field[i] = byte(v)
		v >>= 8
	}
	field[0] = 0x80
}

// rawTar joins headers, each followed by its data padded to a block, and
// the end-of-archive marker.
func rawTar(entries ...rawEntry) []byte {
	var buf bytes.Buffer
	for _, e := range entries {
		buf.Write(e.hdr.bytes())
		buf.Write(e.data)
		buf.Write(make([]byte, (512-len(e.data)%512)%512))
	}
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// rawEntry is a rawHeader and its data.
type rawEntry struct {
	hdr  rawHeader
	data []byte
}

// sparseBomb is a sparse file of realSize bytes with one block of data at
// its end: a few KB of tar that reads back as realSize bytes.
func sparseBomb(name string, realSize int64) rawEntry {
	data := bytes.Repeat([]byte("x"), 512)
	return rawEntry{
		hdr:  rawHeader{name: name, typ: 'S', size: 512, realSize: realSize, sparse: [][2]int64{{realSize - 512, 512}}},
		data: data,
	}
}
