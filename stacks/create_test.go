package stacks

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestCreate runs mmdebstrap for real against Debian's mirror, once.
func TestCreate(t *testing.T) {
	testenv.Require(t, testenv.Network)
	var progress bytes.Buffer
	tmp := t.TempDir()
	img, err := Create(context.Background(), CreateOptions{
		Name:     "test-hello",
		Suite:    "bookworm",
		Packages: []string{"hello"},
		Progress: &progress,
		TempDir:  tmp,
	})
	if err != nil {
		t.Fatalf("Create() error: %v\n%s", err, progress.String())
	}
	// The layer's content is checked below; the fast check covers the rest.
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Errorf("validate.Image(Create()) = %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"io.paas.stack.name": "test-hello", "io.paas.stack.suite": "bookworm", "io.paas.stack.packages": "hello"}
	if !maps.Equal(cfg.Config.Labels, wantLabels) {
		t.Errorf("Create() labels = %v, want %v", cfg.Config.Labels, wantLabels)
	}
	checkProgress(t, progress.String())

	names := layerNames(t, onlyLayer(t, img))
	for _, p := range []string{"etc/debian_version", "usr/bin/hello", "usr/share/doc/hello/copyright"} {
		if !names[p] {
			t.Errorf("created stack has no %s", p)
		}
	}
	for _, p := range []string{"usr/share/man/man1/hello.1.gz", "usr/share/doc/hello/NEWS.gz"} {
		if names[p] {
			t.Errorf("created stack has %s, want it excluded", p)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "mmdebstrap-*")); len(left) != 0 {
		t.Errorf("Create() left %v in its temp dir", left)
	}
	if t.Failed() {
		t.Logf("progress:\n%s", progress.String())
	}
}

// layerNames lists the entries of a layer, reading its stream once.
func layerNames(t *testing.T, l v1.Layer) map[string]bool {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading created layer: %v", err)
		}
		names[strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")] = true
	}
}

// progressLine is a progress line: elapsed seconds, then a message.
var progressLine = regexp.MustCompile(`^ *\[\d+s\] \S`)

func checkProgress(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if !progressLine.MatchString(l) {
			t.Errorf("progress line %q does not match %v", l, progressLine)
		}
	}
	for _, want := range []string{"I: ", "rootfs tarball ", "layer "} {
		if !strings.Contains(out, want) {
			t.Errorf("progress has no %q line:\n%s", want, out)
		}
	}
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name  string
		opts  CreateOptions
		path  string // PATH for the run, when it differs
		check func(error) bool
	}{
		{
			name: "no mmdebstrap",
			path: "/nonexistent",
			check: func(err error) bool {
				return errors.Is(err, ErrNoMmdebstrap) && strings.Contains(err.Error(), "apt-get install mmdebstrap")
			},
		},
		{
			name:  "bad package name",
			opts:  CreateOptions{Packages: []string{"hello,world"}},
			check: func(err error) bool { return err != nil && strings.Contains(err.Error(), `"hello,world"`) },
		},
		{
			name: "unknown suite",
			opts: CreateOptions{Suite: "no-such-suite"},
			check: func(err error) bool {
				var me *MmdebstrapError
				return errors.As(err, &me) && len(me.Output) > 0 && strings.Contains(err.Error(), me.Output[len(me.Output)-1])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			tt.opts.TempDir = t.TempDir()
			_, err := Create(context.Background(), tt.opts)
			if !tt.check(err) {
				t.Errorf("Create(%s) error = %v", tt.name, err)
			}
		})
	}
}

// mmdebstrap reports a full disk in its output only: the error says so to
// errors.Is, so that it is classed as a full disk.
func TestMmdebstrapErrorDiskFull(t *testing.T) {
	exit := errors.New("exit status 1")
	tests := []struct {
		output []string
		full   bool
	}{
		{[]string{"W: creating tarball failed: E: cannot copy to /x/rootfs.tar: No space left on device", "E: mmdebstrap failed to run"}, true},
		{[]string{"E: Unable to locate package nope", "E: mmdebstrap failed to run"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		err := error(&MmdebstrapError{Err: exit, Output: tt.output})
		if got := errors.Is(err, syscall.ENOSPC); got != tt.full {
			t.Errorf("errors.Is(%q, ENOSPC) = %v, want %v", err, got, tt.full)
		}
		if !errors.Is(err, exit) {
			t.Errorf("errors.Is(%q, its exit error) = false, want true", err)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out)
	p.Write([]byte("I: one\nI: tw"))
	p.Write([]byte("o\r\nno newline"))
	p.flush()
	want := []string{"I: one", "I: two", "no newline"}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("progress = %q, want lines %q", got, want)
	}
	for i := range want {
		if !progressLine.MatchString(got[i]) || !strings.HasSuffix(got[i], "] "+want[i]) {
			t.Errorf("progress line %d = %q, want %q after the elapsed time", i, got[i], want[i])
		}
	}
	if tail := p.tail(); len(tail) != 3 || tail[2] != "no newline" {
		t.Errorf("tail() = %q, want the three lines", tail)
	}
}
