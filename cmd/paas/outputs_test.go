package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// --output writes every form, each readable by independent tools, and
// --push lands the same digest in a registry.
func TestBuildOutputsAndPush(t *testing.T) {
	h := sharedHome(t, root)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	ociArchive := filepath.Join(dir, "app.oci.tar")
	dockerArchive := filepath.Join(dir, "app.docker.tar")
	ref := strings.TrimPrefix(reg.URL, "http://") + "/acme/hello:v1"
	r := h.mustBuild(t, "-t", "acme/hello:v1", "-b", buildpackDir("hello"),
		"-o", "oci:"+layout, "-o", "oci-archive:"+ociArchive, "-o", "docker-archive:"+dockerArchive,
		"--push", ref, appCopy(t, root, "hello"))

	for _, src := range []string{"oci:" + layout + ":acme/hello:v1", "oci-archive:" + ociArchive} {
		img, err := oci.Load(src)
		if err != nil {
			t.Fatalf("oci.Load(%s): %v", src, err)
		}
		if d, _ := img.Digest(); d.String() != r.Digest {
			t.Errorf("%s digest = %s, want %s", src, d, r.Digest)
		}
	}
	for _, src := range []string{"oci:" + layout + ":acme/hello:v1", "docker-archive:" + dockerArchive} {
		if out, err := exec.Command("skopeo", "inspect", src).CombinedOutput(); err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", src, err, out)
		}
	}
	pulled, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	if d, _ := pulled.Digest(); d.String() != r.Digest {
		t.Errorf("pushed digest = %s, want %s", d, r.Digest)
	}
	if err := validate.Image(pulled); err != nil {
		t.Errorf("validate pushed image: %v", err)
	}

	// The docker archive loads into a real containerd.
	c, err := client.New(testenv.Containerd(t), client.WithDefaultNamespace("paas-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := os.Open(dockerArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imgs, err := c.Import(context.Background(), f)
	if err != nil {
		t.Fatalf("containerd import: %v", err)
	}
	if len(imgs) != 1 || !strings.Contains(imgs[0].Name, "acme/hello:v1") {
		t.Errorf("containerd imported %+v", imgs)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
