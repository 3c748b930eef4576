package fsutil

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestImports keeps fsutil a leaf that every package may import.
func TestImports(t *testing.T) {
	testenv.ImportsOnly(t, "golang.org/x/sys/unix", "github.com/google/go-containerregistry/pkg/v1")
}

func TestDigester(t *testing.T) {
	d := NewDigester()
	if got, want := d.Digest().String(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Digest() of nothing = %s, want %s", got, want)
	}
	for _, s := range []string{"ab", "c"} {
		if n, err := d.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, want := d.Digest().String(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Digest() of abc = %s, want %s", got, want)
	}
	if d.Size() != 3 {
		t.Errorf("Size() = %d, want 3", d.Size())
	}
}

func TestKindOf(t *testing.T) {
	tests := map[fs.FileMode]string{
		fs.ModeSocket:                     "socket",
		fs.ModeNamedPipe:                  "fifo",
		fs.ModeDevice | fs.ModeCharDevice: "character device",
		fs.ModeDevice:                     "block device",
		fs.ModeIrregular:                  "irregular file",
	}
	for mode, want := range tests {
		if got := KindOf(mode | 0o644); got != want {
			t.Errorf("KindOf(%v) = %q, want %q", mode, got, want)
		}
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := LockFile(context.Background(), path, unix.LOCK_EX, nil)
	if err != nil {
		t.Fatalf("LockFile() = %v", err)
	}
	// A shared lock on another open file waits for the exclusive one.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	waits := 0
	if _, err := LockFile(ctx, path, unix.LOCK_SH, func() { waits++ }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LockFile() of a held lock = %v, want %v", err, context.DeadlineExceeded)
	}
	if waits != 1 {
		t.Errorf("waiting was called %d times, want 1", waits)
	}
	got := make(chan error, 1)
	go func() {
		f, err := LockFile(context.Background(), path, unix.LOCK_SH, nil)
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	held.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("LockFile() after release = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LockFile() still waits after the lock was released")
	}
	if _, err := LockFile(context.Background(), filepath.Join(path, "under-a-file"), unix.LOCK_EX, nil); err == nil || !strings.Contains(err.Error(), "opening lock") {
		t.Errorf("LockFile(bad path) = %v, want an error opening it", err)
	}
}
