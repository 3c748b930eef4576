package stacks

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

// sharedDir holds what several tests reuse, such as the test stack's layer.
var sharedDir string

func TestMain(m *testing.M) {
	if sandbox.Reexec() { // BenchmarkRootfs unpacks through the sandbox
		return
	}
	var err error
	sharedDir, err = os.MkdirTemp("", "stacks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	fsutil.RemoveAll(sharedDir)
	os.Exit(code)
}

// testStackImage returns the test stack (a Debian bookworm minbase) as an image,
// made once per test binary.
func testStackImage(t *testing.T) v1.Image {
	t.Helper()
	return testenv.StackImage(t, func(p string) (v1.Image, error) { return FromTarball(p, sharedDir) })
}

// imageOf stacks the given layers into an OCI image.
func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err := mutate.ConfigFile(base, stackConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatalf("AppendLayers() error: %v", err)
	}
	return img
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
