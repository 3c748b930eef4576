package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ErrAmbiguous reports a layout that holds several images where Load needs
// one: none was named, or several carry the name asked for.
var ErrAmbiguous = errors.New("ambiguous image")

// Load reads an image from source, one of
//
//	oci:DIR[:NAME]               NAME matches org.opencontainers.image.ref.name;
//	                             without it the layout must hold one image
//	oci-archive:FILE[:NAME]      the same, inside a tar
//	docker-archive:FILE[:NAME]   NAME picks a tag when the archive has several
//
// Blobs are read lazily, straight from the directory or the archive, so
// memory does not grow with the image; OCI blobs are verified as they are
// read.
func Load(source string) (v1.Image, error) {
	transport, path, ref, err := parseSource(source)
	if err != nil {
		return nil, err
	}
	var img v1.Image
	switch transport {
	case TransportOCI:
		img, err = loadLayout(dirBlobs(path), func(n string) (io.ReadCloser, error) {
			return os.Open(filepath.Join(path, n))
		}, ref)
	case TransportOCIArchive:
		var tb *tarBlobs
		if tb, err = indexTar(path); err == nil {
			img, err = loadLayout(tb, tb.openName, ref)
		}
	default:
		img, err = loadDockerArchive(path, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", source, err)
	}
	return img, nil
}

func loadLayout(src blobSource, open func(string) (io.ReadCloser, error), ref string) (v1.Image, error) {
	idx, err := readIndexFrom(open)
	if err != nil {
		return nil, err
	}
	desc, err := pickImage(src, idx, ref)
	if err != nil {
		return nil, err
	}
	return imageAt(src, desc)
}

func loadDockerArchive(path, ref string) (v1.Image, error) {
	if ref == "" {
		return tarball.ImageFromPath(path, nil)
	}
	tag, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidName, ref, err)
	}
	return tarball.ImageFromPath(path, &tag)
}

// tarBlobs reads the files of a tar archive in place: one scan records where
// each file's data starts, and later reads open a section of the archive.
type tarBlobs struct {
	path  string
	files map[string]tarEntry
}

type tarEntry struct{ off, size int64 }

// indexTar scans the archive at p once, seeking past file data.
func indexTar(p string) (*tarBlobs, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tb := &tarBlobs{path: p, files: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tb, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			// tar.Reader reads headers block by block and never ahead,
			// so the file offset is where this entry's data starts.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			tb.files[cleanTarName(hdr.Name)] = tarEntry{off: off, size: hdr.Size}
		case tar.TypeLink:
			if e, ok := tb.files[cleanTarName(hdr.Linkname)]; ok {
				tb.files[cleanTarName(hdr.Name)] = e
			}
		}
	}
}

func cleanTarName(n string) string { return path.Clean("/" + n)[1:] }

func (t *tarBlobs) openName(n string) (io.ReadCloser, error) {
	e, ok := t.files[n]
	if !ok {
		return nil, fmt.Errorf("%s has no %s: %w", t.path, n, os.ErrNotExist)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	return sectionReadCloser{io.NewSectionReader(f, e.off, e.size), f}, nil
}

func (t *tarBlobs) open(h v1.Hash) (io.ReadCloser, error) {
	if err := checkAlgorithm(h); err != nil {
		return nil, err
	}
	return t.openName(blobName(h))
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}
