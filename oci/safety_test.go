package oci

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/paas-dev/paas/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestConcurrentPutsFromProcesses puts two images from two processes at once
// while this process runs GC in a loop; both tags must land whole.
func TestConcurrentPutsFromProcesses(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	earlier := randomImage(t, 1024, 1)
	if _, err := s.Put(ctx, KindImage, "earlier", earlier); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	names := []string{"one", "two"}
	var outs []*bytes.Buffer
	var cmds []*exec.Cmd
	for _, n := range names {
		cmd := helper(t, "put", s.Home(), n, 1<<20, 4)
		out := &bytes.Buffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting helper: %v", err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	done := make(chan error, len(cmds))
	for _, c := range cmds {
		go func() { done <- c.Wait() }()
	}
	for finished := 0; finished < len(cmds); {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			finished++
		default:
			if err := s.GC(); err != nil {
				t.Fatalf("GC() during Puts = %v", err)
			}
		}
	}
	for i, n := range append([]string{"earlier"}, names...) {
		img, e, err := s.Image(KindImage, n)
		if err != nil {
			t.Fatalf("Image(%s) = %v", n, err)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image(%s) = %v", n, err)
		}
		if i > 0 && strings.TrimSpace(outs[i-1].String()) != e.Digest.String() {
			t.Errorf("Image(%s) digest = %v, helper put %s", n, e.Digest, outs[i-1])
		}
	}
}

// TestKilledPutLeavesStoreReadable kills a process with SIGKILL while it
// writes the last layer of a large image.
func TestKilledPutLeavesStoreReadable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	earlier := randomImage(t, 1024, 2)
	if _, err := s.Put(ctx, KindImage, "earlier", earlier); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	indexBefore := indexBytes(t, s)

	cmd := helper(t, "stall", s.Home(), "killed", 4<<20, 4)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "stalled\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, %v; want stalled", line, err)
	}
	// The helper is blocked in the middle of a blob: earlier layers are
	// in place, the last one is a temp file.
	if n := len(blobNames(t, s)); n <= len(reachableNames(t, earlier)) {
		t.Fatalf("blobs before kill = %d, want more than the earlier image's", n)
	}
	if len(tempNames(t, s)) == 0 {
		t.Fatalf("no temp file while a blob is being written")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	if got := indexBytes(t, s); !bytes.Equal(got, indexBefore) {
		t.Errorf("index.json after kill = %s, want %s", got, indexBefore)
	}
	verifyBlobs(t, s)
	if err := s.GC(); err != nil {
		t.Fatalf("GC() = %v", err)
	}
	if tmps := tempNames(t, s); len(tmps) != 0 {
		t.Errorf("temp files after GC = %v, want none", tmps)
	}
	if got, want := blobNames(t, s), reachableNames(t, earlier); !slices.Equal(got, want) {
		t.Errorf("blobs after GC = %v, want %v", got, want)
	}
	img, _, err := s.Image(KindImage, "earlier")
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image() = %v", err)
	}
	if _, err := s.Put(ctx, KindImage, "after", randomImage(t, 1024, 1)); err != nil {
		t.Errorf("Put() after kill = %v", err)
	}
}

// TestPutDiskFull fills a 1 MiB tmpfs: the error must say ENOSPC and the
// index must not change.
func TestPutDiskFull(t *testing.T) {
	// Mounting a small tmpfs is the way to fill a disk on purpose.
	testenv.Require(t, testenv.Root)
	home := t.TempDir()
	if err := unix.Mount("tmpfs", home, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting tmpfs (needs root) = %v", err)
	}
	t.Cleanup(func() { unix.Unmount(home, unix.MNT_DETACH) })
	s, err := Open(home)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	small := randomImage(t, 1024, 1)
	if _, err := s.Put(context.Background(), KindImage, "small", small); err != nil {
		t.Fatalf("Put(small) = %v", err)
	}
	before := indexBytes(t, s)
	_, err = s.Put(context.Background(), KindImage, "big", randomImage(t, 512<<10, 4))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put(big) = %v, want ENOSPC", err)
	}
	if got := indexBytes(t, s); !bytes.Equal(got, before) {
		t.Errorf("index.json after ENOSPC = %s, want %s", got, before)
	}
	if tmps := tempNames(t, s); len(tmps) != 0 {
		t.Errorf("temp files after ENOSPC = %v, want none", tmps)
	}
	verifyBlobs(t, s)
	img, _, err := s.Image(KindImage, "small")
	if err != nil {
		t.Fatalf("Image(small) = %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image(small) = %v", err)
	}
}

func TestPutDigestMismatch(t *testing.T) {
	s := openStore(t)
	before := indexBytes(t, s)
	layers, _ := randomImage(t, 1024, 1).Layers()
	img, err := mutate.AppendLayers(empty.Image, lyingLayer{layers[0]})
	if err != nil {
		t.Fatalf("AppendLayers() = %v", err)
	}
	if _, err := s.Put(context.Background(), KindImage, "liar", img); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Put() = %v, want ErrDigestMismatch", err)
	}
	if got := indexBytes(t, s); !bytes.Equal(got, before) {
		t.Errorf("index.json after failed Put = %s, want %s", got, before)
	}
	if tmps := tempNames(t, s); len(tmps) != 0 {
		t.Errorf("temp files after failed Put = %v, want none", tmps)
	}
	if blobs := blobNames(t, s); len(blobs) != 0 {
		t.Errorf("blobs after failed Put = %v, want none", blobs)
	}
}

func TestImageDetectsCorruptBlob(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, 4096, 1)
	if _, err := s.Put(context.Background(), KindImage, "app", img); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	p := s.blobPath(d)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	back, _, err := s.Image(KindImage, "app")
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	rc, err := mustLayer(t, back).Compressed()
	if err != nil {
		t.Fatalf("Compressed() = %v", err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("reading a corrupt layer = %v, want ErrDigestMismatch", err)
	}
}
