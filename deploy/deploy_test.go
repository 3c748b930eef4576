package deploy

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

func TestReplaceWithNothingServing(t *testing.T) {
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Replace(h, "hello"); !errors.Is(err, ErrRuntime) {
		t.Errorf("Replace with nothing serving = %v, want ErrRuntime", err)
	}
	if _, err := Replace(h, "Not A Name"); !errors.Is(err, oci.ErrInvalidName) {
		t.Errorf("Replace(bad name) = %v, want ErrInvalidName", err)
	}
}

// An image run from a transport is named after its digest for the runtime
// and found by Replace under the transport the user gave.
func TestTargetFromTransport(t *testing.T) {
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + filepath.Join(t.TempDir(), "layout")
	if err := oci.Write(context.Background(), img, ref, "app:latest"); err != nil {
		t.Fatal(err)
	}
	tg, err := openTarget(h, ref)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if tg.key != ref || tg.name != "paas-import/"+d.Hex[:12]+":latest" {
		t.Errorf("target = %q, %q", tg.key, tg.name)
	}
	if _, err := openTarget(h, "missing"); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("openTarget(missing) = %v, want ErrNotFound", err)
	}
}

func TestUnknownRuntime(t *testing.T) {
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Runtime: "docker", Console: console.New(io.Discard, true)}
	if _, err := openRuntime(context.Background(), h, o); !errors.Is(err, ErrRuntime) {
		t.Errorf("openRuntime(docker) = %v, want ErrRuntime", err)
	}
}
