package stacks

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/internal/testenv"
)

func TestImportKeepsDigests(t *testing.T) {
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ociImg := mutateToOCI(t, img)
	layoutDir := writeLayoutRefs(t, map[string]v1.Image{"stack:1.0": ociImg, "other": other})
	singleDir := writeLayoutRefs(t, map[string]v1.Image{"only": ociImg})
	archive := tarDir(t, layoutDir)
	dockerTar := filepath.Join(t.TempDir(), "image.tar")
	tag, _ := name.NewTag("example.com/stack:1.0")
	if err := tarball.WriteToFile(dockerTar, tag, img); err != nil {
		t.Fatal(err)
	}

	skopeoArchive := filepath.Join(t.TempDir(), "skopeo.oci.tar")
	if out, err := exec.Command("skopeo", "copy", "oci:"+layoutDir+":stack:1.0", "oci-archive:"+skopeoArchive+":v1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}

	tests := []struct {
		name   string
		source string
		want   v1.Image
	}{
		{"oci layout by ref with colon", "oci:" + layoutDir + ":stack:1.0", ociImg},
		{"oci layout single image", "oci:" + singleDir, ociImg},
		{"oci archive by ref", "oci-archive:" + archive + ":stack:1.0", ociImg},
		{"oci archive written by skopeo", "oci-archive:" + skopeoArchive, ociImg},
		{"docker archive", "docker-archive:" + dockerTar, img},
		{"docker archive by tag", "docker-archive:" + dockerTar + ":example.com/stack:1.0", img},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Import(context.Background(), tt.source, t.TempDir())
			if err != nil {
				t.Fatalf("Import(%s) error: %v", tt.source, err)
			}
			if g, w := layerDigests(t, got), layerDigests(t, tt.want); g != w {
				t.Errorf("Import() layers = %v, want %v", g, w)
			}
			gc, _ := got.ConfigName()
			wc, _ := tt.want.ConfigName()
			if gc != wc {
				t.Errorf("Import() config = %v, want %v", gc, wc)
			}
			if digest(t, got) != digest(t, tt.want) {
				t.Errorf("Import() digest = %v, want %v", digest(t, got), digest(t, tt.want))
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	two := writeLayoutRefs(t, map[string]v1.Image{"a": img, "b": mutateToOCI(t, img)})
	tests := []struct {
		name   string
		source string
		want   error
	}{
		{"unknown transport", "docker://debian:bookworm", ErrUnsupportedSource},
		{"several images, none named", "oci:" + two, ErrNoImage},
		{"unknown ref", "oci:" + two + ":c", ErrNoImage},
		{"missing tarball", filepath.Join(t.TempDir(), "rootfs.tar"), fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Import(context.Background(), tt.source, t.TempDir()); !errors.Is(err, tt.want) {
				t.Errorf("Import(%s) error = %v, want %v", tt.source, err, tt.want)
			}
		})
	}
}

// TestImportPlatformIndex imports a multi-platform image: the entry for
// this machine's platform, from a nested index too.
func TestImportPlatformIndex(t *testing.T) {
	native := mutateToOCI(t, randomImage(t))
	foreign := mutateToOCI(t, randomImage(t))
	other := "arm64"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	add := func(img v1.Image, arch string) mutate.IndexAddendum {
		return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}}
	}
	multi := mutate.AppendManifests(empty.Index, add(foreign, other), add(native, runtime.GOARCH))
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	indexes := map[string]v1.ImageIndex{
		"multi":     multi,
		"nested":    mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: multi}),
		"elsewhere": mutate.AppendManifests(empty.Index, add(foreign, other), add(foreign, "s390x")),
	}
	for ref, idx := range indexes {
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"multi", "nested"} {
		got, err := Import(context.Background(), "oci:"+dir+":"+ref, t.TempDir())
		if err != nil {
			t.Fatalf("Import(%s) error: %v", ref, err)
		}
		if digest(t, got) != digest(t, native) {
			t.Errorf("Import(%s) = %v, want %v for linux/%s", ref, digest(t, got), digest(t, native), runtime.GOARCH)
		}
	}
	if _, err := Import(context.Background(), "oci:"+dir+":elsewhere", t.TempDir()); !errors.Is(err, ErrNoImage) {
		t.Errorf("Import(elsewhere) error = %v, want ErrNoImage", err)
	}
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImportTarballIsFromTarball(t *testing.T) {
	tmp := t.TempDir()
	p := filepath.Join(tmp, "rootfs.tar.zst")
	os.WriteFile(p, zstdBytes(t, testenv.Tar(t, testenv.File("etc/hostname", "stack\n"))), 0o644)
	got, err := Import(context.Background(), p, tmp)
	if err != nil {
		t.Fatalf("Import(%s) error: %v", p, err)
	}
	want, err := FromTarball(p, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, got) != digest(t, want) {
		t.Errorf("Import(tarball) = %v, want %v as FromTarball gives", digest(t, got), digest(t, want))
	}
}

func mutateToOCI(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var oci []v1.Layer
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		oci = append(oci, layerFromTar(t, b))
	}
	return imageOf(t, oci...)
}

func layerFromTar(t *testing.T, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytesReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeLayoutRefs writes images to a new OCI layout, each named by the
// org.opencontainers.image.ref.name annotation as skopeo names them.
func writeLayoutRefs(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarDir archives dir as an oci-archive.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.oci.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func layerDigests(t *testing.T, img v1.Image) string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		s += d.String() + "/" + diffID.String() + " "
	}
	return s
}
