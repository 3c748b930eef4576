package project

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Both schemas give the same descriptor.
func TestParseSchemas(t *testing.T) {
	want := &Descriptor{
		Buildpacks: []Buildpack{{URI: "../bp"}, {ID: "paas.test/app", Version: "1.0"}},
		Env:        []Var{{"GREETING", "hi"}, {"B", "two words"}},
		Exclude:    []string{"*.log", "docs/"},
	}
	for name, text := range map[string]string{
		"0.1": `[project]
id = "x"
[build]
exclude = ["*.log", "docs/"]
[[build.buildpacks]]
uri = "../bp"
[[build.buildpacks]]
id = "paas.test/app"
version = "1.0"
[[build.env]]
name = "GREETING"
value = "hi"
[[build.env]]
name = "B"
value = "two words"
`,
		"0.2": `[_]
schema-version = "0.2"
id = "x"
[io.buildpacks]
exclude = ["*.log", "docs/"]
[[io.buildpacks.group]]
uri = "../bp"
[[io.buildpacks.group]]
id = "paas.test/app"
version = "1.0"
[[io.buildpacks.build.env]]
name = "GREETING"
value = "hi"
[[io.buildpacks.build.env]]
name = "B"
value = "two words"
`,
	} {
		got, err := Parse([]byte(text))
		if err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schema %s: %+v, want %+v", name, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for text, want := range map[string]string{
		"[build\n":                      "invalid TOML",
		"[_]\nschema-version = \"9\"\n": `schema-version "9"`,
		"[build]\ninclude = [\"a\"]\nexclude = [\"b\"]\n": "both include and exclude",
		"[[build.buildpacks]]\nversion = \"1\"\n":         "neither uri nor id",
		"[[build.env]]\nname = \"A-B\"\nvalue = \"x\"\n":  `"A-B" is not a variable name`,
	} {
		if _, err := Parse([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", text, err, want)
		}
	}
}

// A project.toml that is a link out of the app is not read.
func TestReadLink(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(no file) = %v, want fs.ErrNotExist", err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(a link to /etc/passwd) = %v, want an error", err)
	}
}
