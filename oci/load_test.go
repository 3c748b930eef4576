package oci

import (
	"errors"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestIsTransport(t *testing.T) {
	tests := map[string]bool{
		"oci:dir":                 true,
		"oci:dir:app:v1":          true,
		"oci-archive:app.tar":     true,
		"docker-archive:app.tar":  true,
		"oci:":                    true, // Load reports the empty path
		"app":                     false,
		"app:v1":                  false,
		"registry:5000/app:v1":    false,
		"docker://debian:trixie":  false,
		"oci":                     false,
		"./oci:dir":               false,
		"containers-storage:app":  false,
		"localhost/oci-archive:1": false,
	}
	for ref, want := range tests {
		if got := IsTransport(ref); got != want {
			t.Errorf("IsTransport(%q) = %v, want %v", ref, got, want)
		}
	}
}

// TestLoadPicksImage loads from a layout whose index holds multi-platform
// images, nested indexes and ambiguous names.
func TestLoadPicksImage(t *testing.T) {
	native := randomImage(t, 256, 1)
	foreign := randomImage(t, 256, 1)
	other := "arm64"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	platform := func(arch string) *v1.Platform { return &v1.Platform{OS: "linux", Architecture: arch} }
	multi := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: platform(other)}},
		mutate.IndexAddendum{Add: native, Descriptor: v1.Descriptor{Platform: platform(runtime.GOARCH)}},
	)
	nested := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: multi})
	elsewhere := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: platform(other)}},
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "windows", Architecture: runtime.GOARCH}}},
	)

	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	named := func(n string) layout.Option {
		return layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": n})
	}
	for n, idx := range map[string]v1.ImageIndex{"multi": multi, "nested": nested, "elsewhere": elsewhere} {
		if err := p.AppendIndex(idx, named(n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, img := range []v1.Image{native, foreign} {
		if err := p.AppendImage(img, named("twice")); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		ref     string
		want    v1.Image
		wantErr error
	}{
		{"multi", native, nil},
		{"nested", native, nil},
		{"elsewhere", nil, ErrNotFound},
		{"twice", nil, ErrAmbiguous},
		{"", nil, ErrAmbiguous},
		{"missing", nil, ErrNotFound},
	}
	for _, tt := range tests {
		src := "oci:" + dir
		if tt.ref != "" {
			src += ":" + tt.ref
		}
		t.Run(tt.ref, func(t *testing.T) {
			got, err := Load(src)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Load(%s) = %v, want %v", src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%s) = %v", src, err)
			}
			if g, w := digestOf(t, got), digestOf(t, tt.want); g != w {
				t.Errorf("Load(%s) digest = %v, want %v", src, g, w)
			}
		})
	}
}
