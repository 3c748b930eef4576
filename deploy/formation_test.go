package deploy

import (
	"bytes"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// appImage is an image with the process table processes (JSON) and, when
// appJSON is not "", that /app/app.json.
func appImage(t *testing.T, processes, appJSON string) v1.Image {
	t.Helper()
	img, err := mutate.Config(empty.Image, v1.Config{Labels: map[string]string{oci.LabelProcesses: processes}})
	if err != nil {
		t.Fatal(err)
	}
	if appJSON == "" {
		return img
	}
	data := testenv.Tar(t, testenv.Dir("app/", 0o755), testenv.File("app/app.json", appJSON))
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, l); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestFormation(t *testing.T) {
	webWorker := `{"web": "./server", "worker": "./work", "release": "./migrate"}`
	tests := []struct {
		name      string
		processes string
		appJSON   string
		process   string
		scale     string
		want      string // Formation.String(), or the error's text
		wantErr   bool
	}{
		{name: "one web by default", processes: webWorker, want: "web=1"},
		{name: "the only type", processes: `{"clock": "./tick"}`, want: "clock=1"},
		{name: "app.json", processes: webWorker, appJSON: `{"formation": {"web": {"quantity": 3}, "worker": {"quantity": 1}}}`, want: "web=3, worker=1"},
		{name: "worker only", processes: webWorker, appJSON: `{"formation": {"web": {"quantity": 0}, "worker": {"quantity": 2}}}`, want: "worker=2"},
		{name: "--scale over app.json", processes: webWorker, appJSON: `{"formation": {"web": {"quantity": 3}}}`, scale: "web=2,worker=1", want: "web=2, worker=1"},
		{name: "--process alone", processes: webWorker, appJSON: `{"formation": {"web": {"quantity": 3}}}`, process: "worker", want: "worker=1"},
		{name: "app.json without quantity", processes: webWorker, appJSON: `{"formation": {"web": {"size": "basic"}}}`, want: "web=1"},
		{name: "unknown type", processes: webWorker, scale: "clock=1", wantErr: true, want: `no process type "clock" (it has: release, web, worker)`},
		{name: "release", processes: webWorker, scale: "release=1", wantErr: true, want: "runs once before each deploy"},
		{name: "too many", processes: webWorker, scale: "web=33", wantErr: true, want: "want 0 to 32"},
		{name: "nothing", processes: webWorker, scale: "web=0", wantErr: true, want: "nothing to run"},
		{name: "no default", processes: `{"a": "x", "b": "y"}`, wantErr: true, want: "nothing to run"},
		{name: "both flags", processes: webWorker, process: "web", scale: "web=2", wantErr: true, want: "not both"},
		{name: "bad app.json", processes: webWorker, appJSON: `{"formation": {"web": {"quantity": "2"}}}`, wantErr: true, want: "app.json formation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scale, err := ParseScale(tt.scale)
			if err != nil {
				t.Fatal(err)
			}
			img := appImage(t, tt.processes, tt.appJSON)
			m, err := readManifest(img)
			if err != nil {
				t.Fatal(err)
			}
			f, err := formationOf(img, m, Options{Image: "app", Process: tt.process, Scale: scale})
			switch {
			case tt.wantErr && (!errors.Is(err, ErrFormation) || !bytes.Contains([]byte(err.Error()), []byte(tt.want))):
				t.Errorf("formationOf() = %v, want ErrFormation saying %q", err, tt.want)
			case !tt.wantErr && err != nil:
				t.Errorf("formationOf() = %v", err)
			case !tt.wantErr && f.String() != tt.want:
				t.Errorf("formationOf() = %s, want %s", f, tt.want)
			}
		})
	}
}

func TestParseScale(t *testing.T) {
	f, err := ParseScale("web=3, worker=1")
	if err != nil || f.String() != "web=3, worker=1" {
		t.Errorf("ParseScale() = %v, %v", f, err)
	}
	for _, bad := range []string{"web", "web=x", "=2", "web=3,worker"} {
		if _, err := ParseScale(bad); !errors.Is(err, ErrFormation) {
			t.Errorf("ParseScale(%q) = %v, want ErrFormation", bad, err)
		}
	}
}

// manifestOf reads app.json back from an image that has it.
func manifestOf(t *testing.T, appJSON string) *manifest {
	t.Helper()
	m, err := readManifest(appImage(t, `{"web": "x"}`, appJSON))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
