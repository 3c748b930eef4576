package stacks

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/paas-dev/paas/internal/testenv"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

func TestFromTarballStackIsReproducible(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	first := testStackImage(t)
	second, err := FromTarball(testenv.StackTar(t), t.TempDir())
	if err != nil {
		t.Fatalf("FromTarball() error: %v", err)
	}
	d1, d2 := digest(t, first), digest(t, second)
	if d1 != d2 {
		t.Errorf("FromTarball() twice = %v and %v, want equal digests", d1, d2)
	}
	if err := validate.Image(second); err != nil {
		t.Errorf("validate.Image(FromTarball()) = %v", err)
	}
}

func TestFromTarballConfig(t *testing.T) {
	img := fromBytes(t, testenv.Tar(t, testenv.File("etc/debian_version", "12.0\n")))
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"os", cfg.OS, "linux"},
		{"architecture", cfg.Architecture, runtime.GOARCH},
		{"env", fmt.Sprint(cfg.Config.Env), "[PATH=" + sandbox.DefaultPath + "]"},
		{"created", cfg.Created.Unix(), layers.DefaultEpoch.Unix()},
		{"diff ids", len(cfg.RootFS.DiffIDs), 1},
		{"manifest media type", mediaType(t, img.MediaType), types.OCIManifestSchema1},
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"config media type", m.Config.MediaType, types.OCIConfigJSON},
		{"layer media type", m.Layers[0].MediaType, types.OCILayer},
	}...)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("FromTarball() %s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
}

func TestFromTarballCompressions(t *testing.T) {
	raw := testenv.Tar(t, testenv.Dir("etc", 0o755), testenv.File("etc/hostname", "stack\n"), testenv.Symlink("bin", "usr/bin"))
	gz := gzipBytes(raw)
	want := digestOf(raw)
	tests := []struct {
		name       string
		data       []byte
		wantDigest string // the layer digest, when it is known in advance
	}{
		{name: "plain", data: raw},
		{name: "gzip kept as is", data: gz, wantDigest: digestOf(gz)},
		{name: "zstd", data: zstdBytes(t, raw)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := fromBytes(t, tt.data)
			l := onlyLayer(t, img)
			diffID, err := l.DiffID()
			if err != nil || diffID.String() != want {
				t.Errorf("FromTarball() diff ID = %v (%v), want %v", diffID, err, want)
			}
			d, err := l.Digest()
			if err != nil || (tt.wantDigest != "" && d.String() != tt.wantDigest) {
				t.Errorf("FromTarball() layer digest = %v (%v), want %v", d, err, tt.wantDigest)
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("validate.Image(FromTarball()) = %v", err)
			}
		})
	}
}

func TestFromTarballPlainAndZstdAgree(t *testing.T) {
	raw := testenv.Tar(t, testenv.File("a", "a"), testenv.File("b", "b"))
	plainImg, zstdImg := fromBytes(t, raw), fromBytes(t, zstdBytes(t, raw))
	if p, z := digest(t, plainImg), digest(t, zstdImg); p != z {
		t.Errorf("FromTarball(zstd) = %v, want %v as for the plain tarball", z, p)
	}
}

func TestFromTarballRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty file", nil},
		{"text", []byte("this is not a tarball, just some text that is long enough to fill a header block maybe")},
		{"empty tar", testenv.Tar(t)},
		{"broken gzip", gzipBytes([]byte("not a tar"))[:10]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			p := filepath.Join(tmp, "rootfs.tar")
			os.WriteFile(p, tt.data, 0o644)
			_, err := FromTarball(p, tmp)
			if !errors.Is(err, ErrNotTarball) {
				t.Errorf("FromTarball(%s) error = %v, want ErrNotTarball", tt.name, err)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "stack-layer-*")); len(left) != 0 {
				t.Errorf("FromTarball(%s) left %v behind", tt.name, left)
			}
		})
	}
}

func TestFromTarballMissingFile(t *testing.T) {
	_, err := FromTarball(filepath.Join(t.TempDir(), "missing.tar"), t.TempDir())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FromTarball(missing) error = %v, want os.ErrNotExist", err)
	}
}

// ExampleFromTarball pins the layer digests of a tiny tarball so that a
// change in compression (level, header fields, library) cannot slip by.
func ExampleFromTarball() {
	tmp, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "rootfs.tar")
	data, _ := testenv.BuildTar(testenv.File("etc/hostname", "stack\n"))
	os.WriteFile(p, data, 0o644)
	img, err := FromTarball(p, tmp)
	if err != nil {
		fmt.Println(err)
		return
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	diffID, _ := layers[0].DiffID()
	fmt.Println(d)
	fmt.Println(diffID)
	// Output:
	// sha256:a25ba941ff67b1a921e6554ed96e10d981b088408e1203c95f3e8ccc70d7c28a
	// sha256:8969935a2a756728e2d4142ce9c99b08ec37b17107f3c67d10d71e1f502be2cc
}

func fromBytes(t *testing.T, data []byte) v1.Image {
	t.Helper()
	tmp := t.TempDir()
	p := filepath.Join(tmp, "rootfs")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := FromTarball(p, tmp)
	if err != nil {
		t.Fatalf("FromTarball() error: %v", err)
	}
	return img
}

func onlyLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("Layers() = %d layers (%v), want 1", len(ls), err)
	}
	return ls[0]
}

func digest(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest() error: %v", err)
	}
	return d
}

func mediaType(t *testing.T, f func() (types.MediaType, error)) types.MediaType {
	t.Helper()
	mt, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return mt
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}
