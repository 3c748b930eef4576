package testenv

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"
)

// TarEntry is one entry of a crafted tar archive (see Tar), for tests of
// what reads layers and rootfs tarballs.
type TarEntry struct {
	Name string
	Type byte
	Mode int64
	Body string // file content, or the link target of links
}

// tarEpoch is the entries' mtime: layers.DefaultEpoch, which testenv
// cannot import (layers' tests import testenv).
var tarEpoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// Dir returns a directory entry with the given mode.
func Dir(name string, mode int64) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeDir, Mode: mode}
}

// File returns a regular file entry, mode 0644, holding body.
func File(name, body string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644, Body: body}
}

// Symlink returns a symbolic link entry pointing at target.
func Symlink(name, target string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Body: target}
}

// Hardlink returns a hard link entry to the earlier entry target.
func Hardlink(name, target string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeLink, Mode: 0o644, Body: target}
}

// Whiteout returns an empty regular file entry, for names of the form
// .wh.* (whiteouts and opaque markers).
func Whiteout(name string) TarEntry { return TarEntry{Name: name, Type: tar.TypeReg, Mode: 0o644} }

// Special returns a fifo or device entry of type typ (such as
// tar.TypeFifo or tar.TypeChar), mode 0666.
func Special(name string, typ byte) TarEntry { return TarEntry{Name: name, Type: typ, Mode: 0o666} }

// FileMode returns a regular file entry with the given mode whose body is
// its name.
func FileMode(name string, mode int64) TarEntry {
	e := File(name, name)
	e.Mode = mode
	return e
}

// Tar writes entries as a tar archive.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	b, err := BuildTar(entries...)
	if err != nil {
		t.Fatalf("writing test tar: %v", err)
	}
	return b
}

// BuildTar is Tar for callers without a testing.TB, such as Examples.
// Character devices are /dev/null's.
func BuildTar(entries ...TarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, ModTime: tarEpoch}
		switch e.Type {
		case tar.TypeReg:
			hdr.Size = int64(len(e.Body))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = e.Body
		case tar.TypeChar:
			hdr.Devmajor, hdr.Devminor = 1, 3 // /dev/null
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.Body); e.Type == tar.TypeReg && err != nil {
			return nil, err
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}
