package main

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// The disk filling up during export fails the build with its own exit
// code and leaves the store and earlier tags as they were.
func TestBuildDiskFull(t *testing.T) {
	// Mounting a small tmpfs is the way to fill a disk on purpose.
	testenv.Require(t, testenv.Stack|testenv.Root)
	mnt := t.TempDir()
	// Room for the stack (61 MB blob + 178 MB unpacked) and the working
	// copy of the app with 64 MB of random data, not for its layer too.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=340m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	h := newHome(t, root, mnt)
	before := h.mustBuild(t, "-t", "full", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	index, err := os.ReadFile(filepath.Join(h.dir, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}

	big := appCopy(t, root, "hello")
	f, err := os.Create(filepath.Join(big, "random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 64<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, code := h.paas(t, "build", "-t", "full", "-b", buildpackDir("hello"), big)
	if code != exitDiskFull {
		t.Fatalf("exit = %d, want %d\n%s", code, exitDiskFull, out.stderr)
	}
	contains(t, "stderr", out.stderr, "no space left on device")
	after, _ := os.ReadFile(filepath.Join(h.dir, "oci", "index.json"))
	if string(after) != string(index) {
		t.Errorf("index.json changed by a failed build")
	}
	store, _ := oci.Open(h.dir)
	img, e, err := store.Image(oci.KindImage, "full:latest")
	if err != nil || e.Digest.String() != before.Digest {
		t.Fatalf("full:latest = %v %v, want %s", e.Digest, err, before.Digest)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("earlier image no longer valid: %v", err)
	}
}

// Two builds at once into one store both land.
func TestBuildConcurrentIntoOneStore(t *testing.T) {
	h := sharedHome(t, root)
	var wg sync.WaitGroup
	names := []string{"concurrent-a", "concurrent-b"}
	outs := make([]output, len(names))
	codes := make([]int, len(names))
	for i, name := range names {
		cmd := h.command(nil, "build", "-t", name, "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			outs[i].stderr, codes[i] = string(out), cmd.ProcessState.ExitCode()
			_ = err
		}()
	}
	wg.Wait()
	for i, name := range names {
		if codes[i] != 0 {
			t.Fatalf("build %s: exit %d\n%s", name, codes[i], outs[i].stderr)
		}
		if err := validate.Image(storedImage(t, h, name+":latest")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// --compression zstd writes zstd layers for paas's own layers.
func TestBuildZstd(t *testing.T) {
	h := sharedHome(t, root)
	r := h.mustBuild(t, "-t", "zstd", "--compression", "zstd", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	for _, l := range lastLayers(t, storedImage(t, h, r.Image), 3) {
		mt, err := l.MediaType()
		if err != nil || mt != types.OCILayerZStd {
			t.Errorf("media type = %v (%v), want %s", mt, err, types.OCILayerZStd)
		}
	}
	checkHelloImage(t, storedImage(t, h, r.Image))
}
