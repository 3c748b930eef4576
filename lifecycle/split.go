package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paas-dev/paas/appfile"
)

// LayersFile is the file in which a buildpack names the directories of the
// app that hold what it installed, one app-relative path per line: each
// gets a layer of its own (SPEC.md §4). paas reads it from the buildpack's
// own directory after its bin/compile, so a buildpack may ship it or write
// it while compiling.
const LayersFile = "paas-layers"

// DefaultDependencyDirs get a layer of their own whatever the buildpacks
// declare: where Node.js, Python, PHP and Ruby put dependencies, and the
// runtimes and packages Heroku's buildpacks install.
var DefaultDependencyDirs = []string{".apt", ".heroku", ".venv", "node_modules", "vendor"}

// MaxDependencyLayers bounds the dependency layers of an image; further
// directories stay in the app layer.
const MaxDependencyLayers = 16

// readLayersFile adds the directories bp's LayersFile names to the result.
// A file that cannot be read or a line that names no path inside the app
// is warned about and ignored: the layers file only says how /app is
// split, never what it holds.
func (b *build) readLayersFile(bp *prepared) {
	data, err := appfile.ReadFile(b.bpsDir, bp.inBuildpacks(LayersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		b.con.Warn("buildpack %s: ignoring its %s: %v", bp.Ref, LayersFile, err)
		return
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rel := path.Clean(line)
		if path.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			b.con.Warn("buildpack %s: %s line %d: %q is not a path relative to the app; ignored", bp.Ref, LayersFile, i+1, line)
			continue
		}
		b.result.DependencyDirs = append(b.result.DependencyDirs, rel)
	}
}

// dependencyDirs returns the directories of the compiled app under appDir
// that get layers of their own, in the order of those layers: of
// DefaultDependencyDirs and the declared ones, in byte order, those that
// are directories holding at least one entry, reached without a symlink,
// and not inside another one chosen; at most MaxDependencyLayers of them.
func dependencyDirs(appDir string, declared []string, warn func(string)) []string {
	candidates := slices.Concat(DefaultDependencyDirs, declared)
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	var dirs []string
	for _, rel := range candidates {
		inside := slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(rel, d+"/") })
		if !inside && plainDir(appDir, rel) {
			dirs = append(dirs, rel)
		}
	}
	if len(dirs) > MaxDependencyLayers {
		warn(fmt.Sprintf("%d dependency directories; %s and the ones after it stay in the app layer (at most %d layers of their own)",
			len(dirs), dirs[MaxDependencyLayers], MaxDependencyLayers))
		dirs = dirs[:MaxDependencyLayers]
	}
	return dirs
}

// plainDir reports whether appDir/rel is a directory with at least one
// entry and neither it nor a directory above it (inside appDir) is a link.
func plainDir(appDir, rel string) bool {
	p := appDir
	for _, elem := range strings.Split(rel, "/") {
		p = filepath.Join(p, elem)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}
