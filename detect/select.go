package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Source says where a build's buildpack references came from, so messages
// and build metadata can tell the user why a buildpack was used.
type Source string

// The sources of a Selection, strongest first.
const (
	SourceFlag   Source = "--buildpack"
	SourceEnv    Source = "BUILDPACK_URL"
	SourceFile   Source = ".buildpacks"
	SourceDetect Source = "detect"
)

// ErrNoBuildpacks means nothing named a buildpack and there are no defaults
// to detect with.
var ErrNoBuildpacks = errors.New("no buildpack given: use --buildpack, BUILDPACK_URL or a .buildpacks file")

// Selection is the ordered list of buildpack references a build uses. With
// SourceDetect, Refs are candidates: the first whose bin/detect passes is used.
type Selection struct {
	Refs   []string
	Source Source
}

// Select picks the buildpacks for the app in appDir: explicit (--buildpack
// flags) win, in order; else BUILDPACK_URL from env; else the app's
// .buildpacks file, whose relative local paths are made absolute against
// appDir; else defaults, to be detected in order.
func Select(appDir string, explicit []string, env map[string]string, defaults []string) (Selection, error) {
	if len(explicit) > 0 {
		for _, ref := range explicit {
			if strings.TrimSpace(ref) == "" {
				return Selection{}, errors.New("--buildpack: empty buildpack reference")
			}
		}
		return Selection{Refs: clone(explicit), Source: SourceFlag}, nil
	}
	if ref := strings.TrimSpace(env["BUILDPACK_URL"]); ref != "" {
		return Selection{Refs: []string{ref}, Source: SourceEnv}, nil
	}
	refs, err := readBuildpacksFile(appDir)
	if err == nil {
		return Selection{Refs: refs, Source: SourceFile}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Selection{}, err
	}
	if len(defaults) == 0 {
		return Selection{}, ErrNoBuildpacks
	}
	return Selection{Refs: clone(defaults), Source: SourceDetect}, nil
}

// readBuildpacksFile reads appDir/.buildpacks: one reference per line, blank
// and '#' lines ignored. A missing file gives an error matching
// fs.ErrNotExist; a file naming no buildpack is an error, since an empty list
// is more likely a mistake than a wish to fall back to detection.
func readBuildpacksFile(appDir string) ([]string, error) {
	path := filepath.Join(appDir, string(SourceFile))
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var refs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ref, err := absLocal(appDir, line)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		refs = append(refs, ref)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%s names no buildpack: list one reference per line, or delete it to detect one", path)
	}
	return refs, nil
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
