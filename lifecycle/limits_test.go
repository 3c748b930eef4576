package lifecycle

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/internal/testenv"
)

func TestCappedBuffer(t *testing.T) {
	stops := 0
	c := newCappedBuffer(8, func() { stops++ })
	for _, s := range []string{"1234", "5678"} {
		c.Write([]byte(s))
	}
	if got, err := c.bytes(); err != nil || string(got) != "12345678" {
		t.Fatalf("bytes() = %q, %v, want all 8 bytes", got, err)
	}
	for range 3 {
		if n, err := c.Write([]byte("9")); n != 1 || err != nil {
			t.Fatalf("Write past the cap = %d, %v, want 1, nil", n, err)
		}
	}
	if _, err := c.bytes(); !errors.Is(err, ErrOutputTooLong) {
		t.Errorf("bytes() past the cap = %v, want ErrOutputTooLong", err)
	}
	if stops != 1 {
		t.Errorf("stop called %d times, want once", stops)
	}
}

// A bin/detect that never ends is stopped at DetectTimeout, with the
// buildpack named (on the host sandbox, which needs no stack).
func TestDetectTimeout(t *testing.T) {
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "misbehave"), []byte("detect-hangs"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	_, err := Build(context.Background(), Options{
		AppDir:         app,
		Buildpacks:     []string{testenv.Fixture("buildpacks", "hang")},
		CacheDir:       filepath.Join(work, "cache"),
		BuildpackCache: filepath.Join(work, "bps"),
		WorkDir:        work,
		NoSandbox:      true,
		DetectTimeout:  time.Second,
		Console:        console.New(io.Discard, true),
	})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "bin/detect ran longer than 1s") {
		t.Errorf("Build() = %v, want ErrTimeout naming bin/detect", err)
	}
}
