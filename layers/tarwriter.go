package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// ErrChanged is returned (wrapped) when a file changes size while it is
// being written into a layer; the layer would not match any real state.
var ErrChanged = errors.New("file changed while being read")

// defaultDirMode is the mode of the prefix's parent directories, which have
// no source to take a mode from.
const defaultDirMode = 0o755

// tarWriter writes normalized entries: every header gets the same owner and
// mtime, blank names, no atime/ctime, and PAX format so that long names and
// large files are encoded one way only.
//
// A tarWriter made by newHeaderHasher writes no tar at all: it hashes each
// header's fields and never reads a file's content (see Reuse). One that
// writes a tar may hash them too (headers).
type tarWriter struct {
	tw      *tar.Writer // nil when only headers are hashed
	o       *options
	headers io.Writer // nil when not hashed
}

func newTarWriter(w io.Writer, o *options) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), o: o}
}

// newHeaderHasher returns a tarWriter that writes the fields of every
// header into w and skips the files' content.
func newHeaderHasher(w io.Writer, o *options) *tarWriter {
	return &tarWriter{o: o, headers: w}
}

// headersOnly reports whether the content of files is skipped.
func (t *tarWriter) headersOnly() bool { return t.tw == nil }

// Close writes the tar trailer.
func (t *tarWriter) Close() error {
	if t.tw == nil {
		return nil
	}
	return t.tw.Close()
}

// name returns the in-tar name of rel (slash-separated, relative to the
// tree), with the prefix applied.
func (t *tarWriter) name(rel string) string {
	return path.Join(t.o.prefix, rel)
}

// header returns a normalized header for name.
func (t *tarWriter) header(name string, typ byte, mode fs.FileMode) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     tarMode(mode),
		Uid:      t.o.uid,
		Gid:      t.o.gid,
		ModTime:  t.o.epoch,
		Format:   tar.FormatPAX,
	}
}

func (t *tarWriter) write(h *tar.Header) error {
	if t.headers != nil {
		// NUL cannot occur in a name or link target, so the fields of one
		// header, and the headers of a stream, cannot run into each other.
		_, err := fmt.Fprintf(t.headers, "%c\x00%s\x00%s\x00%o\x00%d\x00%d:%d\x00%d\x00",
			h.Typeflag, h.Name, h.Linkname, h.Mode, h.Size, h.Uid, h.Gid, h.ModTime.Unix())
		if err != nil {
			return err
		}
	}
	if t.tw == nil {
		return nil
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing tar header %s: %w", h.Name, err)
	}
	return nil
}

// prefixDirs writes the prefix's parents with defaultDirMode and the prefix
// itself with mode; with no prefix it writes nothing.
func (t *tarWriter) prefixDirs(mode fs.FileMode) error {
	if t.o.prefix == "" {
		return nil
	}
	parts := strings.Split(t.o.prefix, "/")
	for i := range parts {
		m := fs.FileMode(defaultDirMode)
		if i == len(parts)-1 {
			m = mode
		}
		if err := t.dir(strings.Join(parts[:i+1], "/"), m); err != nil {
			return err
		}
	}
	return nil
}

// dir writes a directory entry; name gets its trailing slash here.
func (t *tarWriter) dir(name string, mode fs.FileMode) error {
	return t.write(t.header(name+"/", tar.TypeDir, mode))
}

// symlink writes a symlink entry with its target kept verbatim. Its mode is
// always 0777, as Linux gives every symlink, whatever the source says.
func (t *tarWriter) symlink(name, target string) error {
	h := t.header(name, tar.TypeSymlink, fs.ModePerm)
	h.Linkname = target
	return t.write(h)
}

// hardlink writes a hard link entry pointing at the in-tar name target.
func (t *tarWriter) hardlink(name, target string, mode fs.FileMode) error {
	h := t.header(name, tar.TypeLink, mode)
	h.Linkname = target
	return t.write(h)
}

// file writes a regular file entry and streams exactly size bytes from r;
// a header hasher does not read r, which may then be nil.
func (t *tarWriter) file(name string, mode fs.FileMode, size int64, r io.Reader) error {
	h := t.header(name, tar.TypeReg, mode)
	h.Size = size
	if err := t.write(h); err != nil || t.headersOnly() {
		return err
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Hiding r's WriterTo makes io.CopyBuffer use buf: *os.File's WriteTo
	// would allocate a buffer of its own for every file.
	n, err := io.CopyBuffer(t.tw, struct{ io.Reader }{r}, *buf)
	if errors.Is(err, tar.ErrWriteTooLong) {
		return fmt.Errorf("writing %s: grew past %d bytes: %w", name, size, ErrChanged)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %s: read %d bytes, want %d: %w", name, n, size, ErrChanged)
	}
	return nil
}

// copyBuffers hold the buffers files are copied into the tar through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// tarMode converts Go's file mode bits to the tar header's Unix mode:
// permission bits plus setuid, setgid and sticky.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
