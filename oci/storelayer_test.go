package oci

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// A stored layer blob can be had by its descriptor, with the DiffID the
// caller knows, and reads back verified; one the store lacks is not found.
func TestStoreLayer(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, 1024, 1)
	if _, err := s.Put(context.Background(), KindImage, "app", img); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := partial.Descriptor(ls[0])
	if err != nil {
		t.Fatal(err)
	}
	diffID, err := ls[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Layer(*desc, diffID)
	if err != nil {
		t.Fatalf("Layer() = %v", err)
	}
	if err := validate.Layer(l); err != nil {
		t.Errorf("validate.Layer() = %v", err)
	}
	if got, _ := l.DiffID(); got != diffID {
		t.Errorf("DiffID() = %s, want %s", got, diffID)
	}
	if mt, _ := l.MediaType(); mt != desc.MediaType {
		t.Errorf("MediaType() = %s, want %s", mt, desc.MediaType)
	}

	for name, d := range map[string]v1.Descriptor{
		"missing":    {Digest: diffID, Size: desc.Size, MediaType: desc.MediaType},
		"other size": {Digest: desc.Digest, Size: desc.Size + 1, MediaType: desc.MediaType},
	} {
		if _, err := s.Layer(d, diffID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Layer() = %v, want ErrNotFound", name, err)
		}
	}

	// The blob is verified as it is read.
	b, err := os.ReadFile(s.blobPath(desc.Digest))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(s.blobPath(desc.Digest), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err == nil {
		t.Error("reading a corrupt blob succeeded")
	}
}
