// Package project reads an app's project.toml, the Cloud Native Buildpacks
// project descriptor: the buildpacks to build it with, build-time
// environment variables, and the files to leave out of (or keep in) the
// build. Both schemas CNB tools write are read: 0.1 ([build]) and 0.2
// ([io.buildpacks]).
package project

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/paas-dev/paas/appfile"
	"github.com/paas-dev/paas/internal/safetoml"
)

// Name is the descriptor's file name in the app.
const Name = "project.toml"

// Descriptor is what paas uses of a project.toml.
type Descriptor struct {
	// Buildpacks are the buildpacks to build with, in order.
	Buildpacks []Buildpack
	// Env are build-time variables, in the file's order.
	Env []Var
	// Exclude and Include are gitignore-style patterns of app files left
	// out of the build, or the only ones kept in it.
	Exclude, Include []string
}

// Buildpack is one [[build.buildpacks]] (0.1) or [[io.buildpacks.group]]
// (0.2) entry: a uri, or an id alone.
type Buildpack struct {
	ID      string `toml:"id"`
	Version string `toml:"version"`
	URI     string `toml:"uri"`
}

// Var is one [[build.env]] entry.
type Var struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
}

// build is the table that holds the build settings in either schema.
type build struct {
	Include    []string    `toml:"include"`
	Exclude    []string    `toml:"exclude"`
	Buildpacks []Buildpack `toml:"buildpacks"`
	Group      []Buildpack `toml:"group"`
	Env        []Var       `toml:"env"`
	Build      struct {
		Env []Var `toml:"env"`
	} `toml:"build"`
}

type file struct {
	Underscore struct {
		Schema string `toml:"schema-version"`
	} `toml:"_"`
	Build build `toml:"build"`
	IO    struct {
		Buildpacks build `toml:"buildpacks"`
	} `toml:"io"`
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Read reads appDir's project.toml without following a link out of the
// app; an error matching fs.ErrNotExist when there is none.
func Read(appDir string) (*Descriptor, error) {
	data, err := appfile.ReadFile(appDir, Name)
	if err != nil {
		return nil, err
	}
	d, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return d, nil
}

// Parse reads a project.toml's content.
func Parse(data []byte) (*Descriptor, error) {
	var f file
	if err := safetoml.Decode(data, &f); err != nil {
		return nil, fmt.Errorf("invalid TOML: %w", err)
	}
	var b build
	var env []Var
	switch f.Underscore.Schema {
	case "", "0.1":
		b, env = f.Build, f.Build.Env
	case "0.2":
		b, env = f.IO.Buildpacks, f.IO.Buildpacks.Build.Env
		b.Buildpacks = b.Group
	default:
		return nil, fmt.Errorf("schema-version %q is not one paas reads (0.1, 0.2)", f.Underscore.Schema)
	}
	if len(b.Include) > 0 && len(b.Exclude) > 0 {
		return nil, errors.New("it has both include and exclude; CNB allows one or the other")
	}
	for i, bp := range b.Buildpacks {
		if strings.TrimSpace(bp.URI) == "" && strings.TrimSpace(bp.ID) == "" {
			return nil, fmt.Errorf("buildpack %d has neither uri nor id", i+1)
		}
	}
	for _, v := range env {
		if !varName.MatchString(v.Name) {
			return nil, fmt.Errorf("build env %q is not a variable name", v.Name)
		}
	}
	return &Descriptor{Buildpacks: b.Buildpacks, Env: env, Exclude: b.Exclude, Include: b.Include}, nil
}
