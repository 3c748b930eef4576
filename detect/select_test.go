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
			got, err := Select(Inputs{AppDir: appDir, Flags: tt.explicit, Env: tt.env, Defaults: defaults})
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
			got, err := Select(Inputs{AppDir: appDir, Flags: tt.explicit, Defaults: tt.defaults})
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
	got, err := Select(Inputs{AppDir: t.TempDir(), Flags: explicit})
	if err != nil {
		t.Fatal(err)
	}
	got.Refs[0] = "changed"
	if explicit[0] != "./a" {
		t.Errorf("Select() aliased its input: explicit = %v, want [./a]", explicit)
	}
}

// Builtin buildpacks' names select them from every source, unless a
// directory of that name exists where the reference is read from: the
// current directory for flags, BUILDPACK_URL and PAAS_BUILDPACKS, the app
// for .buildpacks. Without defaults, the builtins are detected.
func TestSelectBuiltinNames(t *testing.T) {
	builtins := []string{"go", "static", "procfile"}
	cwd := t.TempDir()
	t.Chdir(cwd)
	if err := os.Mkdir("static", 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		in         Inputs
		buildpacks string // content of .buildpacks; "" means no file
		appDirs    []string
		want       func(appDir string) []string
	}{
		{
			name: "flags", in: Inputs{Flags: []string{"go", "static", "./procfile", "gopher"}},
			want: func(string) []string { return []string{"go", filepath.Join(cwd, "static"), "./procfile", "gopher"} },
		},
		{
			name: "BUILDPACK_URL", in: Inputs{Env: map[string]string{"BUILDPACK_URL": "procfile"}},
			want: func(string) []string { return []string{"procfile"} },
		},
		{
			name: "PAAS_BUILDPACKS", in: Inputs{Defaults: []string{"static", "go"}},
			want: func(string) []string { return []string{filepath.Join(cwd, "static"), "go"} },
		},
		{
			name: ".buildpacks after a URL", buildpacks: "https://example.test/bp.tgz\ngo\nstatic\nprocfile\n", appDirs: []string{"procfile"},
			want: func(app string) []string {
				return []string{"https://example.test/bp.tgz", "go", "static", filepath.Join(app, "procfile")}
			},
		},
		{
			name: "detection", want: func(string) []string { return builtins },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.AppDir, tt.in.Builtins = t.TempDir(), builtins
			if tt.buildpacks != "" {
				writeFile(t, filepath.Join(tt.in.AppDir, ".buildpacks"), tt.buildpacks)
			}
			for _, d := range tt.appDirs {
				if err := os.Mkdir(filepath.Join(tt.in.AppDir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Select(tt.in)
			if err != nil {
				t.Fatalf("Select() error = %v", err)
			}
			if want := tt.want(tt.in.AppDir); !slices.Equal(got.Refs, want) {
				t.Errorf("Select() = %q, want %q", got.Refs, want)
			}
		})
	}
}

// app.json's buildpacks come after --buildpack and BUILDPACK_URL and before
// .buildpacks; an empty list is no setting.
func TestSelectAppJSON(t *testing.T) {
	builtins := []string{"go", "procfile"}
	tests := []struct {
		name    string
		in      Inputs
		appJSON string
		want    func(appDir string) Selection
	}{
		{
			name:    "after BUILDPACK_URL",
			in:      Inputs{Env: map[string]string{"BUILDPACK_URL": "https://example.test/env.tgz"}},
			appJSON: `{"buildpacks": [{"url": "go"}]}`,
			want: func(string) Selection {
				return Selection{Refs: []string{"https://example.test/env.tgz"}, Source: SourceEnv}
			},
		},
		{
			name:    "before .buildpacks, names and paths",
			appJSON: `{"name": "x", "buildpacks": [{"url": "https://example.test/a.tgz"}, {"url": "./vendor/bp"}, {"url": "go"}]}`,
			want: func(app string) Selection {
				return Selection{Refs: []string{"https://example.test/a.tgz", filepath.Join(app, "vendor/bp"), "go"}, Source: SourceApp}
			},
		},
		{
			name:    "an empty list is no setting",
			appJSON: `{"buildpacks": [], "healthchecks": {}}`,
			want:    func(string) Selection { return Selection{Refs: []string{"procfile"}, Source: SourceFile} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.AppDir, tt.in.Builtins = t.TempDir(), builtins
			writeFile(t, filepath.Join(tt.in.AppDir, "app.json"), tt.appJSON)
			writeFile(t, filepath.Join(tt.in.AppDir, ".buildpacks"), "procfile\n")
			got, err := Select(tt.in)
			if err != nil {
				t.Fatalf("Select() error = %v", err)
			}
			if want := tt.want(tt.in.AppDir); got.Source != want.Source || !slices.Equal(got.Refs, want.Refs) {
				t.Errorf("Select() = %+v, want %+v", got, want)
			}
		})
	}
}

// A broken app.json stops the build, naming the file and the problem.
func TestSelectAppJSONErrors(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"buildpacks": [{"url": "go"}, {}]}`, `app.json: buildpacks[1] has no "url"`},
		{`{"buildpacks": "go"}`, "app.json: json: cannot unmarshal string"},
	} {
		app := t.TempDir()
		writeFile(t, filepath.Join(app, "app.json"), tt.json)
		_, err := Select(Inputs{AppDir: app, Builtins: []string{"go"}})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(app, tt.want)) {
			t.Errorf("Select(app.json %s) error = %v, want %q", tt.json, err, filepath.Join(app, tt.want))
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// project.toml's buildpacks come after .buildpacks: uris (relative ones
// against the app), ids of builtin buildpacks; image and registry
// buildpacks and unknown ids are refused naming the entry.
func TestSelectProject(t *testing.T) {
	app := t.TempDir()
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(app, "project.toml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`[_]
schema-version = "0.2"
[[io.buildpacks.group]]
uri = "bp/runtime"
[[io.buildpacks.group]]
uri = "https://example.test/app.tgz"
[[io.buildpacks.group]]
id = "go"
`)
	in := Inputs{AppDir: app, Builtins: []string{"go", "nodejs"}}
	got, err := Select(in)
	want := Selection{Refs: []string{filepath.Join(app, "bp/runtime"), "https://example.test/app.tgz", "go"}, Source: SourceProject}
	if err != nil || !slices.Equal(got.Refs, want.Refs) || got.Source != want.Source {
		t.Errorf("Select() = %+v, %v; want %+v", got, err, want)
	}
	if err := os.WriteFile(filepath.Join(app, ".buildpacks"), []byte("./other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Select(in); got.Source != SourceFile {
		t.Errorf("with .buildpacks too, Select() = %+v, want .buildpacks to win", got)
	}
	if err := os.Remove(filepath.Join(app, ".buildpacks")); err != nil {
		t.Fatal(err)
	}
	for text, msg := range map[string]string{
		"[[build.buildpacks]]\nuri = \"urn:cnb:registry:acme/bp@1\"\n": "not supported yet",
		"[[build.buildpacks]]\nid = \"acme/unknown\"\n":                `"acme/unknown" has no uri`,
		"[[build.buildpacks\n":                                         "invalid TOML",
	} {
		write(text)
		if _, err := Select(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("project.toml %q: Select() = %v, want an error saying %q", text, err, msg)
		}
	}
}
