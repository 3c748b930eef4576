package oci

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/paas-dev/paas/internal/testenv"
)

// helperEnv switches the test binary into a helper process that acts on a
// store, so tests can run Puts in other processes and kill them.
const helperEnv = "PAAS_OCI_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	testenv.StopContainerd()
	os.Exit(code)
}

// runHelper puts a random image of PAAS_LAYERS layers of PAAS_BYTES bytes
// into the store at PAAS_STORE under PAAS_NAME and prints its digest. In
// mode "stall" a last layer streams 1 MiB, prints "stalled" and blocks, so
// the parent can kill the process in the middle of writing a blob.
func runHelper(mode string) error {
	s, err := Open(os.Getenv("PAAS_STORE"))
	if err != nil {
		return err
	}
	size, _ := strconv.ParseInt(os.Getenv("PAAS_BYTES"), 10, 64)
	layers, _ := strconv.ParseInt(os.Getenv("PAAS_LAYERS"), 10, 64)
	img, err := random.Image(size, layers)
	if err != nil {
		return err
	}
	if mode == "stall" {
		if img, err = mutate.AppendLayers(img, stallLayer{}); err != nil {
			return err
		}
	}
	d, err := s.Put(context.Background(), KindImage, os.Getenv("PAAS_NAME"), img)
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

// helper returns a command running the test binary as a helper process.
func helper(t *testing.T, mode, store, name string, size, layers int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "PAAS_STORE="+store, "PAAS_NAME="+name,
		fmt.Sprintf("PAAS_BYTES=%d", size), fmt.Sprintf("PAAS_LAYERS=%d", layers))
	cmd.Stderr = os.Stderr
	return cmd
}

// stallLayer claims a digest it never finishes streaming.
type stallLayer struct{}

var stallDigest = v1.Hash{Algorithm: "sha256", Hex: "5a11" + fmt.Sprintf("%060d", 0)}

func (stallLayer) Digest() (v1.Hash, error)            { return stallDigest, nil }
func (stallLayer) DiffID() (v1.Hash, error)            { return stallDigest, nil }
func (stallLayer) Size() (int64, error)                { return 64 << 20, nil }
func (stallLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (stallLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, fmt.Errorf("stallLayer has no uncompressed form")
}
func (stallLayer) Compressed() (io.ReadCloser, error) { return &stallReader{left: 1 << 20}, nil }

type stallReader struct{ left int }

func (r *stallReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		fmt.Println("stalled")
		select {}
	}
	n := min(len(p), r.left)
	rand.Read(p[:n])
	r.left -= n
	return n, nil
}
func (r *stallReader) Close() error { return nil }

// randomImage returns a random image for linux on this machine's
// architecture, so containerd can unpack it.
func randomImage(t testing.TB, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatalf("random.Image() = %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile() = %v", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatalf("mutate.ConfigFile() = %v", err)
	}
	return img
}

// openStore opens a store in a fresh temp dir.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return s
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest() = %v", err)
	}
	return d
}
