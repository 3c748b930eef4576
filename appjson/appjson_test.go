package appjson

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

func TestBuildpackURLs(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []string
		wantErr string
	}{
		{name: "Heroku's form", json: `{"name":"x","buildpacks":[{"url":"https://example.test/a.tgz"},{"url":" go "}]}`, want: []string{"https://example.test/a.tgz", "go"}},
		{name: "none", json: `{"healthchecks":{"web":[{"path":"/"}]}}`, want: []string{}},
		{name: "entry without url", json: `{"buildpacks":[{"url":"go"},{"name":"x"}]}`, wantErr: `buildpacks[1] has no "url"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.BuildpackURLs()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("BuildpackURLs() = %q, %v, want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("BuildpackURLs() = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

// Read names the file in errors and reports a missing one as such. A
// malformed healthchecks value is left to `paas run`.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(no app.json) error = %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, Name)
	if err := os.WriteFile(path, []byte(`{"buildpacks": {"url": "go"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Read(bad app.json) error = %v, want one starting with %s", err, path)
	}
	if err := os.WriteFile(path, []byte(`{"healthchecks": [1], "buildpacks": [{"url": "go"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := Read(dir); err != nil || len(m.Buildpacks) != 1 {
		t.Errorf("Read() = %+v, %v, want its one buildpack", m, err)
	}
}

// TestImportsOnlyStandardLibrary keeps appjson a leaf that detect and
// health may share (appfile is itself a standard library leaf).
func TestImportsOnlyStandardLibrary(t *testing.T) {
	testenv.ImportsOnly(t, "github.com/paas-dev/paas/appfile")
}
