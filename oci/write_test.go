package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// sameBlobs fails unless got has want's config and layer blobs.
func sameBlobs(t *testing.T, got, want v1.Image) {
	t.Helper()
	gc, _ := got.ConfigName()
	wc, _ := want.ConfigName()
	if gc != wc {
		t.Errorf("config = %v, want %v", gc, wc)
	}
	gl, _ := got.Layers()
	wl, _ := want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("layers = %d, want %d", len(gl), len(wl))
	}
	for i := range gl {
		g, _ := gl[i].Digest()
		w, _ := wl[i].Digest()
		if g != w {
			t.Errorf("layer %d = %v, want %v", i, g, w)
		}
	}
}

func TestWriteLoad(t *testing.T) {
	ctx := context.Background()
	docker := randomImage(t, 4096, 2)
	oci, err := OCI(docker)
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	tests := []struct {
		name      string
		transport string
		img       v1.Image
		// sameDigest: the output keeps the manifest byte for byte.
		sameDigest bool
	}{
		{"oci dir", TransportOCI, oci, true},
		{"oci dir docker types", TransportOCI, docker, true},
		{"oci archive", TransportOCIArchive, oci, true},
		{"docker archive", TransportDockerArchive, docker, false},
		{"docker archive of oci image", TransportDockerArchive, oci, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			if err := Write(ctx, tt.img, tt.transport+":"+path, "app:v1"); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			for _, source := range []string{tt.transport + ":" + path, tt.transport + ":" + path + ":app:v1"} {
				got, err := Load(source)
				if err != nil {
					t.Fatalf("Load(%s) = %v", source, err)
				}
				if err := validate.Image(got); err != nil {
					t.Errorf("validate.Image(Load(%s)) = %v", source, err)
				}
				sameBlobs(t, got, tt.img)
				if g, w := digestOf(t, got), digestOf(t, tt.img); tt.sameDigest && g != w {
					t.Errorf("Load(%s) digest = %v, want %v", source, g, w)
				}
			}
		})
	}
}

// TestWriteReadBySkopeo checks outputs with an independent reader.
func TestWriteReadBySkopeo(t *testing.T) {
	ctx := context.Background()
	img, err := OCI(randomImage(t, 4096, 2))
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	dir := t.TempDir()
	cfgName, _ := img.ConfigName()
	tests := []struct {
		dest    string
		inspect []string // skopeo arguments; the output's sha256 is compared
		want    v1.Hash
	}{
		{"oci:" + dir + "/layout", []string{"--raw", "oci:" + dir + "/layout:app:v1"}, digestOf(t, img)},
		{"oci-archive:" + dir + "/oci.tar", []string{"--raw", "oci-archive:" + dir + "/oci.tar:app:v1"}, digestOf(t, img)},
		{"docker-archive:" + dir + "/docker.tar", []string{"--config", "--raw", "docker-archive:" + dir + "/docker.tar"}, cfgName},
	}
	for _, tt := range tests {
		t.Run(tt.dest, func(t *testing.T) {
			if err := Write(ctx, img, tt.dest, "app:v1"); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			out, err := exec.Command("skopeo", append([]string{"inspect"}, tt.inspect...)...).Output()
			if err != nil {
				t.Fatalf("skopeo inspect %v = %v %s", tt.inspect, err, stderrOf(err))
			}
			sum := sha256.Sum256(out)
			if got := hex.EncodeToString(sum[:]); got != tt.want.Hex {
				t.Errorf("skopeo inspect %v digest = %s, want %s", tt.inspect, got, tt.want.Hex)
			}
		})
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// TestStoreReadByTools checks that skopeo and umoci read the store as a
// plain OCI layout.
func TestStoreReadByTools(t *testing.T) {
	s := openStore(t)
	img, err := OCI(randomImage(t, 4096, 2))
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	d, err := s.Put(context.Background(), KindImage, "app", img)
	if err != nil {
		t.Fatalf("Put() = %v", err)
	}
	layout := filepath.Join(s.Home(), "oci")
	out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+layout+":app:latest").Output()
	if err != nil {
		t.Fatalf("skopeo inspect = %v %s", err, stderrOf(err))
	}
	if sum := sha256.Sum256(out); hex.EncodeToString(sum[:]) != d.Hex {
		t.Errorf("skopeo inspect digest = %x, want %s", sum, d.Hex)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--rootless", "--image", layout+":app:latest", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack = %v\n%s", err, out)
	}
	ents, err := os.ReadDir(filepath.Join(bundle, "rootfs"))
	if err != nil || len(ents) != 2 {
		t.Errorf("umoci rootfs = %v, %v; want the 2 random files", ents, err)
	}
}

func TestWriteOCIDirReplacesEntry(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "layout")
	first, second, other := randomImage(t, 100, 1), randomImage(t, 100, 1), randomImage(t, 100, 1)
	for _, w := range []struct {
		img  v1.Image
		name string
	}{{first, "app:v1"}, {other, "other:v1"}, {second, "app:v1"}} {
		if err := Write(ctx, w.img, "oci:"+dir, w.name); err != nil {
			t.Fatalf("Write(%s) = %v", w.name, err)
		}
	}
	tests := []struct {
		ref  string
		want v1.Hash
	}{
		{"app:v1", digestOf(t, second)},
		{"other:v1", digestOf(t, other)},
	}
	for _, tt := range tests {
		got, err := Load("oci:" + dir + ":" + tt.ref)
		if err != nil {
			t.Fatalf("Load(%s) = %v", tt.ref, err)
		}
		if d := digestOf(t, got); d != tt.want {
			t.Errorf("Load(%s) = %v, want %v", tt.ref, d, tt.want)
		}
	}
	if _, err := Load("oci:" + dir); err == nil {
		t.Errorf("Load() of a layout with 2 images and no name = nil error, want one")
	}
	if _, err := Load("oci:" + dir + ":missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(missing) = %v, want ErrNotFound", err)
	}
}

func TestWriteRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), randomImage(t, 10, 1), "oci:"+dir, "app"); err == nil {
		t.Errorf("Write() into a non-layout dir = nil, want an error")
	}
}

func TestOCI(t *testing.T) {
	docker := randomImage(t, 1024, 3)
	got, err := OCI(docker)
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate.Image(OCI()) = %v", err)
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatalf("Manifest() = %v", err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("OCI() media types = %s, %s, want OCI", m.MediaType, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("OCI() layer %d media type = %s, want %s", i, l.MediaType, types.OCILayer)
		}
	}
	sameBlobs(t, got, docker)
	gotCfg, _ := got.RawConfigFile()
	wantCfg, _ := docker.RawConfigFile()
	if !bytes.Equal(gotCfg, wantCfg) {
		t.Errorf("OCI() changed the config bytes")
	}
	again, err := OCI(got)
	if err != nil {
		t.Fatalf("OCI(OCI()) = %v", err)
	}
	if digestOf(t, again) != digestOf(t, got) {
		t.Errorf("OCI(OCI()) = %v, want %v", digestOf(t, again), digestOf(t, got))
	}
}

func TestPush(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// Push what a build leaves: an image read back from the store.
	s := openStore(t)
	if _, err := s.Put(context.Background(), KindImage, "app", randomImage(t, 256<<10, 3)); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	img, _, err := s.Image(KindImage, "app")
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	tests := []struct {
		name     string
		progress bool
	}{{"with progress", true}, {"quiet", false}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := fmt.Sprintf("%s/team/app:v%d", host, i)
			var progress bytes.Buffer
			var w io.Writer
			if tt.progress {
				w = &progress
			}
			if err := Push(context.Background(), img, ref, w); err != nil {
				t.Fatalf("Push() = %v", err)
			}
			r, _ := name.ParseReference(ref)
			pulled, err := remote.Image(r)
			if err != nil {
				t.Fatalf("remote.Image() = %v", err)
			}
			if g, w := digestOf(t, pulled), digestOf(t, img); g != w {
				t.Errorf("pulled digest = %v, want %v", g, w)
			}
			if tt.progress && !strings.Contains(progress.String(), "pushed") {
				t.Errorf("progress = %q, want lines reporting bytes pushed", progress.String())
			}
		})
	}
	if err := Push(context.Background(), img, "Not A Ref", nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Push(bad ref) = %v, want ErrInvalidName", err)
	}
}

// TestLoadForeignArchives loads archives that skopeo wrote, so the readers
// do not only understand this package's own writers.
func TestLoadForeignArchives(t *testing.T) {
	img, err := OCI(randomImage(t, 4096, 2))
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	dir := t.TempDir()
	if err := Write(context.Background(), img, "oci:"+dir+"/layout", "app:v1"); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	tests := []struct {
		dest   string // skopeo copy destination
		source string // for Load
	}{
		{"oci-archive:" + dir + "/oci.tar:app:v2", "oci-archive:" + dir + "/oci.tar:app:v2"},
		{"docker-archive:" + dir + "/docker.tar:app:v2", "docker-archive:" + dir + "/docker.tar"},
	}
	for _, tt := range tests {
		t.Run(tt.dest, func(t *testing.T) {
			if out, err := exec.Command("skopeo", "copy", "oci:"+dir+"/layout:app:v1", tt.dest).CombinedOutput(); err != nil {
				t.Fatalf("skopeo copy = %v\n%s", err, out)
			}
			got, err := Load(tt.source)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if err := validate.Image(got); err != nil {
				t.Errorf("validate.Image() = %v", err)
			}
			// skopeo may rewrite the config when it converts to docker
			// form; the layers stay.
			gl, _ := got.Layers()
			wl, _ := img.Layers()
			if len(gl) != len(wl) {
				t.Fatalf("layers = %d, want %d", len(gl), len(wl))
			}
			for i := range wl {
				g, _ := gl[i].DiffID()
				w, _ := wl[i].DiffID()
				if g != w {
					t.Errorf("layer %d diff id = %v, want %v", i, g, w)
				}
			}
		})
	}
}

// A push uploads only the blobs the registry lacks: pushing an image again
// (to its tag or another of the repository) uploads none, and after one
// layer changed, only that layer and the config go up.
func TestPushUploadsOnlyMissingBlobs(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var mu sync.Mutex
	uploads := 0
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			mu.Lock()
			uploads++
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(img v1.Image, ref string) int {
		t.Helper()
		mu.Lock()
		uploads = 0
		mu.Unlock()
		if err := Push(context.Background(), img, host+"/"+ref, nil); err != nil {
			t.Fatalf("Push(%s) = %v", ref, err)
		}
		mu.Lock()
		defer mu.Unlock()
		return uploads
	}

	img := randomImage(t, 64<<10, 3)
	if n := push(img, "team/app:v1"); n != 4 {
		t.Errorf("first push uploaded %d blobs, want 4 (3 layers and the config)", n)
	}
	if n := push(img, "team/app:v1"); n != 0 {
		t.Errorf("pushing the same image again uploaded %d blobs, want 0", n)
	}
	if n := push(img, "team/app:v2"); n != 0 {
		t.Errorf("pushing it to another tag uploaded %d blobs, want 0", n)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	changed, err := mutate.AppendLayers(empty.Image, append(layers[:2:2], newLayer(t))...)
	if err != nil {
		t.Fatal(err)
	}
	if n := push(changed, "team/app:v3"); n != 2 {
		t.Errorf("pushing an image with one new layer uploaded %d blobs, want 2 (the layer and the config)", n)
	}
}

func newLayer(t *testing.T) v1.Layer {
	t.Helper()
	l, err := random.Layer(64<<10, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
