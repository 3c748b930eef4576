package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/fsutil"
)

// ErrNotFound reports a tag that the store (or a layout) does not hold.
var ErrNotFound = fault.New(fault.NotFound, "image not found")

const (
	// indexLock serialises changes of index.json between processes.
	indexLock = "index.lock"
	// gcLock is held shared by every Put from its first blob until its tag
	// is in the index, and exclusively by GC, so GC never deletes the blobs
	// of an image that is not tagged yet.
	gcLock = "gc.lock"
	// tmpPrefix starts the names of blobs being written. GC deletes such
	// files: holding gcLock exclusively, it knows no Put is writing them.
	tmpPrefix = ".paas-tmp-"
)

// Store is the local image store: an OCI image layout at Home()/oci, where
// every tag is an entry of index.json annotated with its name
// (org.opencontainers.image.ref.name) and its Kind (io.paas.kind). Other
// tools read it as a plain layout (skopeo oci:DIR:NAME, umoci).
//
// A Store is safe for use by many goroutines and processes at once, and a
// process killed at any point leaves it readable with every earlier tag
// intact.
type Store struct {
	home string
	dir  string
}

// Entry describes one tag of the store.
type Entry struct {
	Kind   Kind
	Name   string
	Digest v1.Hash // of the manifest
	// Size is the bytes of manifest, config and layers: what the image
	// takes on disk when it shares nothing with other images.
	Size int64
	// Annotations of the index entry: the name, the kind, and the
	// manifest's own annotations, copied so listing needs no manifest.
	Annotations map[string]string
}

// Open opens the store at home, creating home and an empty layout in
// home/oci when they are missing.
func Open(home string) (*Store, error) {
	s := &Store{home: home, dir: filepath.Join(home, "oci")}
	if err := os.MkdirAll(filepath.Join(s.dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", home, err)
	}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", home, err)
	}
	return s, nil
}

// Home returns the directory the store was opened at.
func (s *Store) Home() string { return s.home }

// Layout returns the store's OCI image layout directory, for readers that
// take one (BuildKit's session content stores); they must only read it.
func (s *Store) Layout() string { return s.dir }

// Holds reports whether the store has the blob h (a manifest, a config or
// a layer).
func (s *Store) Holds(h v1.Hash) bool { return s.has(h, -1) }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

func (s *Store) blobPath(h v1.Hash) string { return s.path("blobs", h.Algorithm, h.Hex) }

// lock takes the store's lock file name (unix.LOCK_SH or unix.LOCK_EX),
// waiting for it. Closing the file releases the lock, and so does the death
// of the process, which is why a killed build never leaves the store locked.
func (s *Store) lock(name string, how int) (*os.File, error) {
	return fsutil.LockFile(context.Background(), s.path(name), how, nil)
}

// init writes oci-layout and an empty index.json when they are missing.
func (s *Store) init() error {
	l, err := s.lock(indexLock, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := os.Stat(s.path(specs.ImageLayoutFile)); errors.Is(err, os.ErrNotExist) {
		b, _ := json.Marshal(specs.ImageLayout{Version: specs.ImageLayoutVersion})
		if err := fsutil.WriteFileData(s.path(specs.ImageLayoutFile), 0o644, b); err != nil {
			return err
		}
	}
	if _, err := os.Stat(s.path(specs.ImageIndexFile)); errors.Is(err, os.ErrNotExist) {
		return s.writeIndex(&v1.IndexManifest{})
	}
	return nil
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	return readIndexFrom(func(name string) (io.ReadCloser, error) { return os.Open(s.path(name)) })
}

func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	idx.SchemaVersion = 2
	idx.MediaType = types.OCIImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encoding index: %w", err)
	}
	return fsutil.WriteFileData(s.path(specs.ImageIndexFile), 0o644, b)
}

// updateIndex applies change to index.json under the index lock.
func (s *Store) updateIndex(change func(*v1.IndexManifest) error) error {
	return s.withIndex(func(idx *v1.IndexManifest) error {
		if err := change(idx); err != nil {
			return err
		}
		return s.writeIndex(idx)
	})
}

// withIndex calls fn with index.json as read under the index lock, which
// it holds until fn returns.
func (s *Store) withIndex(fn func(*v1.IndexManifest) error) error {
	l, err := s.lock(indexLock, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer l.Close()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	return fn(idx)
}

// checkTag checks kind and normalises name.
func checkTag(kind Kind, name string) (string, error) {
	if err := kind.valid(); err != nil {
		return "", err
	}
	return NormalizeName(name)
}

// findEntry returns the position of kind/name in idx, or -1.
func findEntry(idx *v1.IndexManifest, kind Kind, name string) int {
	return slices.IndexFunc(idx.Manifests, func(d v1.Descriptor) bool {
		return d.Annotations[AnnotationKind] == string(kind) && d.Annotations[AnnotationRefName] == name
	})
}

// Put stores img under kind and name, replacing what that tag named before,
// and returns the digest of its manifest. Blobs the store already holds are
// not written again. The tag appears only once every blob is durably on
// disk, so a Put that fails or is killed leaves the index as it was.
func (s *Store) Put(ctx context.Context, kind Kind, name string, img v1.Image) (v1.Hash, error) {
	name, err := checkTag(kind, name)
	if err != nil {
		return v1.Hash{}, err
	}
	gc, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer gc.Close()
	desc, err := s.writeImage(ctx, img)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("storing %s %s: %w", kind, name, err)
	}
	desc.Annotations[AnnotationKind] = string(kind)
	desc.Annotations[AnnotationRefName] = name
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		if i := findEntry(idx, kind, name); i >= 0 {
			idx.Manifests[i] = desc
		} else {
			idx.Manifests = append(idx.Manifests, desc)
		}
		return nil
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("tagging %s %s: %w", kind, name, err)
	}
	return desc.Digest, nil
}

// Image returns the image tagged kind/name and its entry. The image reads
// its blobs from the store lazily and verifies each against its digest.
func (s *Store) Image(kind Kind, name string) (v1.Image, Entry, error) {
	name, err := checkTag(kind, name)
	if err != nil {
		return nil, Entry{}, err
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, Entry{}, err
	}
	i := findEntry(idx, kind, name)
	if i < 0 {
		return nil, Entry{}, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	e, err := s.entry(idx.Manifests[i])
	if err != nil {
		return nil, Entry{}, err
	}
	img, err := imageAt(dirBlobs(s.dir), idx.Manifests[i])
	if err != nil {
		return nil, Entry{}, err
	}
	return img, e, nil
}

// List returns the tags of kind sorted by name; an empty kind lists all.
func (s *Store) List(kind Kind) ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range idx.Manifests {
		k := Kind(d.Annotations[AnnotationKind])
		if k == "" || (kind != "" && k != kind) {
			continue
		}
		e, err := s.entry(d)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmpOr(strings.Compare(a.Name, b.Name), strings.Compare(string(a.Kind), string(b.Kind)))
	})
	return out, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// entry describes an index entry, reading its manifest for the size.
func (s *Store) entry(d v1.Descriptor) (Entry, error) {
	raw, err := readBlob(dirBlobs(s.dir), d)
	if err != nil {
		return Entry{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return Entry{}, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	size := d.Size + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return Entry{
		Kind:        Kind(d.Annotations[AnnotationKind]),
		Name:        d.Annotations[AnnotationRefName],
		Digest:      d.Digest,
		Size:        size,
		Annotations: maps.Clone(d.Annotations),
	}, nil
}

// Remove untags kind/name and deletes the blobs no other tag uses.
func (s *Store) Remove(kind Kind, name string) error {
	name, err := checkTag(kind, name)
	if err != nil {
		return err
	}
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		i := findEntry(idx, kind, name)
		if i < 0 {
			return fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
		}
		idx.Manifests = slices.Delete(idx.Manifests, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return s.GC()
}
