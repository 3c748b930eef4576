package appimage

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/paas-dev/paas/oci"
)

// AppImage returns an image whose layers hold the given files, one layer
// per map, later layers over earlier ones.
func appImage(t *testing.T, labels map[string]string, layers ...map[string]string) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range layers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, body := range files {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, body)
		}
		tw.Close()
		data := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestFileLastLayerWins(t *testing.T) {
	img := appImage(t, nil,
		map[string]string{"app/app.json": "old", "app/other": "x"},
		map[string]string{"./app/app.json": "new"},
	)
	got, err := File(img, "app.json")
	if err != nil || string(got) != "new" {
		t.Errorf("File(app.json) = %q, %v, want the top layer's", got, err)
	}
	if got, err := File(img, "missing"); got != nil || err != nil {
		t.Errorf("File(missing) = %q, %v, want nil, nil", got, err)
	}
}

func TestInspectReadsLabels(t *testing.T) {
	img := appImage(t, map[string]string{
		oci.LabelProcesses: `{"web":"./server","worker":"./work"}`,
		oci.LabelStack:     `{"name":"trixie"}`,
	}, map[string]string{"app/server": "x"})
	in, err := Inspect(img, "hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	if in.Processes["web"] != "./server" || in.Default != "web" || string(in.Stack) != `{"name":"trixie"}` || len(in.Layers) != 1 {
		t.Errorf("Inspect = %+v", in)
	}
}
