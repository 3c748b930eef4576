package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paas-dev/paas/appfile"
	"github.com/paas-dev/paas/appjson"
	"github.com/paas-dev/paas/project"
)

// Source says where a build's buildpack references came from, so messages
// and build metadata can tell the user why a buildpack was used.
type Source string

// The sources of a Selection, strongest first.
const (
	SourceFlag    Source = "--buildpack"
	SourceEnv     Source = "BUILDPACK_URL"
	SourceApp     Source = "app.json"
	SourceFile    Source = ".buildpacks"
	SourceProject Source = "project.toml"
	SourceDetect  Source = "detect"
)

// ErrNoBuildpacks means nothing named a buildpack and there are no defaults
// to detect with.
var ErrNoBuildpacks = errors.New("no buildpack given: use --buildpack, BUILDPACK_URL, app.json buildpacks or a .buildpacks file")

// Selection is the ordered list of buildpack references a build uses. With
// SourceDetect, Refs are candidates: the first whose bin/detect passes is used.
// A ref that is a builtin buildpack's bare name means that builtin: a
// directory that wins over the name is given as an absolute path.
type Selection struct {
	Refs   []string
	Source Source
}

// Inputs are what Select chooses from.
type Inputs struct {
	// AppDir is the app's source directory.
	AppDir string
	// Flags are the --buildpack references, in order.
	Flags []string
	// Env are the config vars, for BUILDPACK_URL.
	Env map[string]string
	// Defaults are detection candidates (PAAS_BUILDPACKS); when empty, the
	// builtin buildpacks are.
	Defaults []string
	// Builtins are the builtin buildpacks' names, in detection order.
	Builtins []string
}

// Select picks the buildpacks for the app: --buildpack flags win, in order;
// else BUILDPACK_URL from the config vars; else the app's app.json
// `buildpacks`; else its .buildpacks file; else defaults, to be detected in
// order. Relative local paths in app.json and .buildpacks are made absolute
// against the app.
//
// A builtin buildpack's name names it unless a directory of that name
// exists: relative to the current directory for flags, BUILDPACK_URL and
// defaults, relative to the app for app.json and .buildpacks.
func Select(in Inputs) (Selection, error) {
	cwd := builtinNames{names: in.Builtins}
	if len(in.Flags) > 0 {
		for _, ref := range in.Flags {
			if strings.TrimSpace(ref) == "" {
				return Selection{}, errors.New("--buildpack: empty buildpack reference")
			}
		}
		return Selection{Refs: cwd.resolveAll(in.Flags), Source: SourceFlag}, nil
	}
	if ref := strings.TrimSpace(in.Env["BUILDPACK_URL"]); ref != "" {
		return Selection{Refs: cwd.resolveAll([]string{ref}), Source: SourceEnv}, nil
	}
	app := builtinNames{dir: in.AppDir, names: in.Builtins}
	refs, err := readAppJSON(in.AppDir, app)
	if err != nil || len(refs) > 0 {
		return Selection{Refs: refs, Source: SourceApp}, err
	}
	refs, err = readBuildpacksFile(in.AppDir, app)
	if err == nil {
		return Selection{Refs: refs, Source: SourceFile}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Selection{}, err
	}
	if refs, err = readProject(in.AppDir, app); err != nil || len(refs) > 0 {
		return Selection{Refs: refs, Source: SourceProject}, err
	}
	if len(in.Defaults) > 0 {
		return Selection{Refs: cwd.resolveAll(in.Defaults), Source: SourceDetect}, nil
	}
	if len(in.Builtins) == 0 {
		return Selection{}, ErrNoBuildpacks
	}
	return Selection{Refs: clone(in.Builtins), Source: SourceDetect}, nil
}

// builtinNames tells builtin buildpacks' names from directories of the
// same name in dir ("" for the current directory).
type builtinNames struct {
	dir   string
	names []string
}

// isBuiltin reports whether ref names a builtin buildpack: it is one's
// name and no directory of that name exists, which would win.
func (b builtinNames) isBuiltin(ref string) bool {
	if !slices.Contains(b.names, ref) {
		return false
	}
	fi, err := os.Stat(filepath.Join(b.dir, ref))
	return err != nil || !fi.IsDir()
}

// resolveAll returns refs with each directory that wins over a builtin's
// name made absolute, so that the bare name always means the builtin.
func (b builtinNames) resolveAll(refs []string) []string {
	out := clone(refs)
	for i, ref := range out {
		if slices.Contains(b.names, ref) && !b.isBuiltin(ref) {
			out[i] = absPath(filepath.Join(b.dir, ref))
		}
	}
	return out
}

// readAppJSON returns the references app.json's `buildpacks` lists, made
// absolute like .buildpacks lines; none when there is no app.json or it
// lists none.
func readAppJSON(appDir string, names builtinNames) ([]string, error) {
	m, err := appjson.Read(appDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	urls, err := m.BuildpackURLs()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(appDir, appjson.Name), err)
	}
	return names.absAll(urls)
}

// absAll returns the app's references with builtin buildpacks' names kept
// and relative local paths made absolute against the app.
func (b builtinNames) absAll(refs []string) ([]string, error) {
	out := make([]string, len(refs))
	for i, ref := range refs {
		if b.isBuiltin(ref) {
			out[i] = ref
			continue
		}
		abs, err := absLocal(b.dir, ref)
		if err != nil {
			return nil, err
		}
		out[i] = abs
	}
	return out, nil
}

// readProject returns the buildpacks project.toml lists: each by its uri,
// relative paths made absolute against the app, or by an id that names a
// builtin buildpack. None when there is no project.toml or it lists none.
func readProject(appDir string, names builtinNames) ([]string, error) {
	d, err := project.Read(appDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", appDir, err)
	}
	var refs []string
	for _, bp := range d.Buildpacks {
		uri := strings.TrimPrefix(bp.URI, "file://")
		switch {
		case strings.HasPrefix(uri, "urn:cnb:"):
			return nil, fmt.Errorf("%s: buildpack %s: registry ids are not supported yet; give a directory, a .tgz, a URL or an image (docker://REF)", project.Name, bp.URI)
		case uri == "" && names.isBuiltin(bp.ID):
			refs = append(refs, bp.ID)
		case uri == "":
			return nil, fmt.Errorf("%s: buildpack id %q has no uri, and paas has no builder to find it in: give its uri (a directory, a .tgz or a URL)", project.Name, bp.ID)
		default:
			refs = append(refs, uri)
		}
	}
	out, err := names.absAll(refs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", project.Name, err)
	}
	return out, nil
}

// readBuildpacksFile reads appDir/.buildpacks: one reference per line, blank
// and '#' lines ignored. A missing file gives an error matching
// fs.ErrNotExist; a file naming no buildpack is an error, since an empty list
// is more likely a mistake than a wish to fall back to detection.
func readBuildpacksFile(appDir string, names builtinNames) ([]string, error) {
	path := filepath.Join(appDir, string(SourceFile))
	f, err := appfile.Open(appDir, string(SourceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", appDir, err)
	}
	defer f.Close()
	var refs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		refs = append(refs, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	refs, err = names.absAll(refs)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%s names no buildpack: list one reference per line, or delete it to detect one", path)
	}
	return refs, nil
}

// absPath makes p absolute, keeping it when the working directory is
// unknown (the fetch then fails naming it).
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// absLocal makes ref absolute against appDir when it is a relative local
// path, and leaves URLs, scp-style git addresses and absolute paths alone.
func absLocal(appDir, ref string) (string, error) {
	if filepath.IsAbs(ref) || strings.Contains(ref, "://") || scpLike(ref) {
		return ref, nil
	}
	dir, err := filepath.Abs(appDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ref), nil
}

// scpLike reports whether ref is a git address like git@host:org/repo.git,
// which git recognises by a colon before any slash.
func scpLike(ref string) bool {
	colon := strings.IndexByte(ref, ':')
	slash := strings.IndexByte(ref, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

// clone copies s so callers may not alias the caller's slice.
func clone(s []string) []string { return append([]string(nil), s...) }
