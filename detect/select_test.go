package detect

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	defaults := []string{"https://example.test/nodejs.tgz", "https://example.test/go.tgz"}
	tests := []struct {
		name       string
		explicit   []string
		env        map[string]string
		buildpacks string // content of .buildpacks; "" means no file
		want       func(appDir string) Selection
	}{
		{
			name:       "flags win over everything",
			explicit:   []string{"./a", "https://example.test/b.git#v1"},
			env:        map[string]string{"BUILDPACK_URL": "https://example.test/env.git"},
			buildpacks: "https://example.test/file.git\n",
			want: func(string) Selection {
				return Selection{Refs: []string{"./a", "https://example.test/b.git#v1"}, Source: SourceFlag}
			},
		},
		{
			name:       "BUILDPACK_URL wins over .buildpacks",
			env:        map[string]string{"BUILDPACK_URL": " https://example.test/env.git#main "},
			buildpacks: "https://example.test/file.git\n",
			want: func(string) Selection {
				return Selection{Refs: []string{"https://example.test/env.git#main"}, Source: SourceEnv}
			},
		},
		{
			name:       "empty BUILDPACK_URL is ignored",
			env:        map[string]string{"BUILDPACK_URL": ""},
			buildpacks: "https://example.test/file.git\n",
			want: func(string) Selection {
				return Selection{Refs: []string{"https://example.test/file.git"}, Source: SourceFile}
			},
		},
		{
			name: ".buildpacks in order with comments and relative paths",
			buildpacks: "# first the runtime\n\n  https://example.test/node.git#v200  \n" +
				"git@github.com:heroku/heroku-buildpack-go.git\n" +
				"./vendor/bp\nlocal-bp.tgz\n/abs/bp\nfile:///srv/bp.git#main\n",
			want: func(appDir string) Selection {
				return Selection{Refs: []string{
					"https://example.test/node.git#v200",
					"git@github.com:heroku/heroku-buildpack-go.git",
					filepath.Join(appDir, "vendor/bp"),
					filepath.Join(appDir, "local-bp.tgz"),
					"/abs/bp",
					"file:///srv/bp.git#main",
				}, Source: SourceFile}
			},
		},
		{
			name: "defaults when nothing is named",
			env:  map[string]string{"OTHER": "x"},
			want: func(string) Selection { return Selection{Refs: defaults, Source: SourceDetect} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appDir := t.TempDir()
			if tt.buildpacks != "" {
				writeFile(t, filepath.Join(appDir, ".buildpacks"), tt.buildpacks)
			}
			got, err := Select(appDir, tt.explicit, tt.env, defaults)
			if err != nil {
				t.Fatalf("Select() error = %v", err)
			}
			want := tt.want(appDir)
			if got.Source != want.Source || !slices.Equal(got.Refs, want.Refs) {
				t.Errorf("Select() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	tests := []struct {
		name       string
		explicit   []string
		buildpacks string
		dirFile    bool // make .buildpacks a directory
		defaults   []string
		wantErr    string
		wantIs     error
	}{
		{name: "empty .buildpacks", buildpacks: "# nothing\n\n", defaults: []string{"x"}, wantErr: ".buildpacks names no buildpack"},
		{name: ".buildpacks is a directory", dirFile: true, defaults: []string{"x"}, wantErr: ".buildpacks"},
		{name: "no defaults", wantErr: "no buildpack given", wantIs: ErrNoBuildpacks},
		{name: "empty flag", explicit: []string{"./a", " "}, wantErr: "--buildpack: empty buildpack reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appDir := t.TempDir()
			if tt.buildpacks != "" {
				writeFile(t, filepath.Join(appDir, ".buildpacks"), tt.buildpacks)
			}
			if tt.dirFile {
				if err := os.Mkdir(filepath.Join(appDir, ".buildpacks"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Select(appDir, tt.explicit, nil, tt.defaults)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Select() = %+v, %v, want error containing %q", got, err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Select() error = %v, want errors.Is %v", err, tt.wantIs)
			}
		})
	}
}

func TestSelectCopiesSlices(t *testing.T) {
	explicit := []string{"./a"}
	got, err := Select(t.TempDir(), explicit, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got.Refs[0] = "changed"
	if explicit[0] != "./a" {
		t.Errorf("Select() aliased its input: explicit = %v, want [./a]", explicit)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
