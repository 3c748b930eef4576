package buildpack

import (
	"errors"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/paas-dev/paas/oci"
)

// kind is how a reference is fetched.
type kind int

const (
	kindDir        kind = iota // a local directory, used in place
	kindArchive                // a local .tgz/.tar.gz file
	kindArchiveURL             // an http(s) .tgz/.tar.gz URL
	kindGit                    // anything git can clone
	kindImage                  // a buildpack image by transport (oci:DIR, ...)
	kindRegistry               // a buildpack image in a registry (docker://REF)
)

// location is a parsed reference.
type location struct {
	kind kind
	src  string // path, URL or git address without the #ref
	rev  string // git #ref; "" for the remote's default branch
}

// parseRef classifies ref. Any http(s) URL that is not an archive is a git
// repository, because that is how Heroku buildpacks are usually named
// (https://github.com/heroku/heroku-buildpack-go).
func parseRef(ref string) (location, error) {
	loc, err := classify(ref)
	if err == nil && strings.HasPrefix(loc.rev, "-") {
		// Leading dashes would be read as options by git.
		return location{}, errors.New("a #ref may not start with '-'")
	}
	return loc, err
}

// classify splits ref into its kind, source and git revision.
func classify(ref string) (location, error) {
	if strings.TrimSpace(ref) == "" {
		return location{}, errors.New("empty reference")
	}
	if strings.HasPrefix(ref, "-") {
		// Leading dashes would be read as options by git.
		return location{}, errors.New("a reference may not start with '-'")
	}
	if rest, ok := strings.CutPrefix(ref, RegistryPrefix); ok {
		return location{kind: kindRegistry, src: rest}, nil
	}
	if oci.IsTransport(ref) {
		return location{kind: kindImage, src: ref}, nil
	}
	scheme, _, isURL := strings.Cut(ref, "://")
	isURL = isURL && validScheme(scheme)
	scheme = strings.ToLower(scheme)
	switch {
	case isURL && (scheme == "http" || scheme == "https"):
		return parseHTTP(ref)
	case isURL && scheme == "file":
		return parseFileURL(ref)
	case isURL:
		return parseGit(ref)
	case scpLike(ref) && !exists(ref):
		return parseGit(ref)
	}
	return parseLocal(ref)
}

// parseHTTP handles http(s) URLs: an archive by its path's suffix, else git.
func parseHTTP(ref string) (location, error) {
	src, rev, _ := strings.Cut(ref, "#")
	u, err := url.Parse(src)
	if err != nil {
		return location{}, err
	}
	if !isArchive(u.Path) {
		return location{kind: kindGit, src: src, rev: rev}, nil
	}
	if rev != "" {
		return location{}, errors.New("an archive URL takes no #ref")
	}
	return location{kind: kindArchiveURL, src: src}, nil
}

// parseFileURL handles file:// references: a git repository when it ends in
// .git or has a #ref, else an archive file or a directory.
func parseFileURL(ref string) (location, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return location{}, err
	}
	if u.Host != "" && u.Host != "localhost" {
		return location{}, errors.New("a file:// URL must name a local path (file:///dir)")
	}
	if u.Fragment != "" || strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), ".git") {
		// git takes the plain path; it needs no URL escaping that way.
		return location{kind: kindGit, src: u.Path, rev: u.Fragment}, nil
	}
	return parseLocal(u.Path)
}

// parseGit splits a git address from its optional #ref.
func parseGit(ref string) (location, error) {
	src, rev, _ := strings.Cut(ref, "#")
	return location{kind: kindGit, src: src, rev: rev}, nil
}

// parseLocal handles a path: an archive by its suffix, a git repository when
// it ends in .git or carries a #ref that is not part of an existing path,
// else a directory.
func parseLocal(ref string) (location, error) {
	if src, rev, ok := strings.Cut(ref, "#"); ok && !exists(ref) {
		return parseGit(absPath(src) + "#" + rev)
	}
	switch {
	case isArchive(ref):
		return location{kind: kindArchive, src: absPath(ref)}, nil
	case strings.HasSuffix(strings.TrimSuffix(ref, "/"), ".git"):
		return location{kind: kindGit, src: absPath(ref)}, nil
	}
	return location{kind: kindDir, src: absPath(ref)}, nil
}

// validScheme reports whether s is a URL scheme ([a-zA-Z][a-zA-Z0-9+.-]*),
// so that a path like "./a://b" is not taken for a URL.
func validScheme(s string) bool {
	for i, c := range s {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return s != ""
}

// scpLike reports whether ref is a git address like git@host:org/repo.git,
// which git recognises by a colon before any slash.
func scpLike(ref string) bool {
	colon := strings.IndexByte(ref, ':')
	slash := strings.IndexByte(ref, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}

func isArchive(p string) bool {
	return strings.HasSuffix(p, ".tgz") || strings.HasSuffix(p, ".tar.gz")
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// absPath makes p absolute so the result does not depend on a later chdir;
// it keeps p when the working directory is unknown.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// nameOf derives a buildpack's human name from the last element of its
// source: "https://h/heroku/heroku-buildpack-go.git" gives
// "heroku-buildpack-go".
func nameOf(src string) string {
	if u, err := url.Parse(src); err == nil && u.Scheme != "" && u.Path != "" {
		src = u.Path
	} else if scpLike(src) {
		_, src, _ = strings.Cut(src, ":")
	}
	base := path.Base(strings.TrimRight(filepath.ToSlash(src), "/"))
	for _, ext := range []string{".git", ".tgz", ".tar.gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base == "" || base == "." || base == "/" {
		return "buildpack"
	}
	return base
}
