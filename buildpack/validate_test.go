package buildpack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string // "" means valid
	}{
		{name: "complete", setup: func(*testing.T, string) {}},
		{name: "no release", setup: func(t *testing.T, dir string) { remove(t, dir, "bin/release") }},
		{name: "symlinked scripts inside", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "libexec", "compile"), "#!/bin/sh\n", 0o755)
			remove(t, dir, "bin/compile")
			symlink(t, "../libexec/compile", filepath.Join(dir, "bin", "compile"))
		}},
		{name: "missing detect", setup: func(t *testing.T, dir string) { remove(t, dir, "bin/detect") }, wantErr: "bin/detect is missing; a buildpack needs executable bin/detect and bin/compile"},
		{name: "compile not executable", setup: func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "bin", "compile"), 0o644) }, wantErr: "bin/compile is not executable (chmod +x bin/compile)"},
		{name: "release not executable", setup: func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "bin", "release"), 0o600) }, wantErr: "bin/release is not executable"},
		{name: "compile is a directory", setup: func(t *testing.T, dir string) {
			remove(t, dir, "bin/compile")
			os.Mkdir(filepath.Join(dir, "bin", "compile"), 0o755)
		}, wantErr: "bin/compile is not a regular file"},
		{name: "symlink outside", setup: func(t *testing.T, dir string) {
			remove(t, dir, "bin/detect")
			symlink(t, "/bin/true", filepath.Join(dir, "bin", "detect"))
		}, wantErr: "bin/detect links outside the buildpack"},
		{name: "CNB", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \"a/b\"\n", 0o644)
			writeFile(t, filepath.Join(dir, "bin", "build"), "#!/bin/sh\n", 0o755)
			remove(t, dir, "bin/compile")
		}},
		{name: "CNB without bin/build", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \"a/b\"\n", 0o644)
		}, wantErr: "bin/build is missing"},
		{name: "CNB of an API paas does not run", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.2\"\n[buildpack]\nid = \"a/b\"\n", 0o644)
		}, wantErr: `buildpack.toml: Buildpack API "0.2" is not one paas runs (0.9, 0.10, 0.11)`},
		{name: "CNB meta-buildpack", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \"a/meta\"\n[[order]]\n[[order.group]]\nid = \"a/b\"\n", 0o644)
			remove(t, dir, "bin/detect")
		}},
		{name: "CNB meta-buildpack naming itself", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n[buildpack]\nid = \"a/meta\"\n[[order]]\n[[order.group]]\nid = \"a/meta\"\n", 0o644)
		}, wantErr: `buildpack.toml: a/meta's [[order.group]] names "a/meta"`},
		{name: "CNB without id", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "buildpack.toml"), "api = \"0.10\"\n", 0o644)
		}, wantErr: "buildpack.toml names no [buildpack] id"},
		{name: "broken symlink", setup: func(t *testing.T, dir string) {
			remove(t, dir, "bin/detect")
			symlink(t, "nowhere", filepath.Join(dir, "bin", "detect"))
		}, wantErr: "bin/detect is a broken symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bp")
			writeBuildpack(t, dir, "1")
			tt.setup(t, dir)
			err := (&Buildpack{Ref: "./bp", Dir: dir}).Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if want := "buildpack ./bp: " + tt.wantErr; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate() = %v, want %q", err, want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false, want true", err)
			}
		})
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
