// Package launch holds what an image needs to start its app: the launcher
// (the image's entrypoint) and the table of process types it reads.
package launch

import (
	_ "embed"
	"io/fs"
	"path"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/layers"
)

// Paths inside the image.
const (
	Launcher     = "/paas/launcher"
	ProcessesDir = "/paas/processes"
	AppDir       = "/app"
	DefaultPort  = "5000"
)

// The launcher is a POSIX shell script: every stack already has /bin/sh, so
// a script adds no binary to the image and is byte-for-byte the same in
// every build, which keeps its layer shared. It runs itself under bash when
// the image has bash, because Heroku's .profile.d scripts and process
// commands are written for bash.
//
//go:embed launcher.sh
var script []byte

// Script returns the launcher's source.
func Script() []byte { return script }

// Layer returns the launcher layer: /paas/launcher. It is identical for every
// image, so registries and stores hold it once.
func Layer(opts ...layers.Option) (v1.Layer, error) {
	return layers.FromFiles([]layers.File{
		{Path: "paas", Mode: fs.ModeDir | 0o755},
		{Path: "paas/launcher", Mode: 0o755, Body: script},
	}, opts...)
}

// ProfileDir holds scripts the launcher sources before the app's
// .profile.d: the environment Cloud Native Buildpacks' launch layers set.
const ProfileDir = "/paas/profile.d"

// ProfileLayer returns the layer holding script as ProfileDir/cnb.sh.
func ProfileLayer(script string, opts ...layers.Option) (v1.Layer, error) {
	return layers.FromFiles([]layers.File{
		{Path: "paas", Mode: fs.ModeDir | 0o755},
		{Path: "paas/profile.d", Mode: fs.ModeDir | 0o755},
		{Path: "paas/profile.d/cnb.sh", Mode: 0o644, Body: []byte(script)},
	}, opts...)
}

// ProcessLayer returns the layer holding one file per process type under
// /paas/processes, each containing the type's command. It changes only when
// the Procfile or the buildpacks' defaults change.
func ProcessLayer(processes map[string]string, opts ...layers.Option) (v1.Layer, error) {
	files := []layers.File{
		{Path: "paas", Mode: fs.ModeDir | 0o755},
		{Path: "paas/processes", Mode: fs.ModeDir | 0o755},
	}
	for _, typ := range SortedTypes(processes) {
		files = append(files, layers.File{
			Path: path.Join("paas/processes", typ),
			Mode: 0o644,
			Body: []byte(processes[typ] + "\n"),
		})
	}
	return layers.FromFiles(files, opts...)
}

// DefaultType is the process an image runs when started without arguments:
// web, else the only type there is, else none.
func DefaultType(processes map[string]string) string {
	if _, ok := processes["web"]; ok {
		return "web"
	}
	if len(processes) == 1 {
		for typ := range processes {
			return typ
		}
	}
	return ""
}

// SortedTypes returns the process type names in lexical order.
func SortedTypes(processes map[string]string) []string {
	types := make([]string, 0, len(processes))
	for typ := range processes {
		types = append(types, typ)
	}
	sort.Strings(types)
	return types
}
