package buildpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/paas-dev/paas/secret"
)

// Options steer Fetch.
type Options struct {
	// CacheDir is where fetched buildpacks are cached, one entry per
	// reference. Local directories do not need it.
	CacheDir string
	// Pull re-fetches unpinned references (a git branch, a tag, or no #ref)
	// instead of reusing the cached copy.
	Pull bool
	// Log receives human progress lines; nil discards them.
	Log io.Writer
	// Builtins are the buildpacks shipped inside paas. A reference that is
	// exactly one's name (Buildpack.Ref, e.g. "go") names it; a directory of
	// that name must then be given as a path ("./go").
	Builtins []*Buildpack
	// CAs is a PEM bundle of the certificate authorities https downloads
	// and git clones trust (the host's and --ca-cert files); nil trusts
	// the host's.
	CAs []byte
}

// Buildpack is a fetched, validated buildpack directory.
type Buildpack struct {
	// Ref is the reference as given to Fetch.
	Ref string
	// Dir is the buildpack on disk. It may be shared with other builds, so
	// callers copy it before running it.
	Dir string
	// Name is a human name from the directory or URL basename, e.g.
	// "heroku-buildpack-go".
	Name string
	// Resolved pins what was fetched: the commit sha for git references,
	// "sha256:<hex>" of the archive for archives, "builtin@sha256:<hex>" of
	// the content for builtin buildpacks, "" for local directories.
	Resolved string
	// CNB is the buildpack.toml of a Cloud Native Buildpack, set by
	// Validate; nil for a classic buildpack.
	CNB *Descriptor
}

// Fetch makes the buildpack named by ref available on disk and validates it.
// ref is a builtin buildpack's name (see Options.Builtins), a local
// directory (used in place), a .tgz/.tar.gz file or http(s) URL, or a git
// URL with an optional #ref (branch, tag or commit sha).
// Errors name ref and match ErrFetch or ErrInvalid.
func Fetch(ctx context.Context, ref string, opts Options) (*Buildpack, error) {
	if bp := opts.builtin(ref); bp != nil {
		return bp, bp.Validate()
	}
	loc, err := parseRef(ref)
	if err != nil {
		return nil, &refError{ref: ref, class: ErrFetch, err: err}
	}
	bp := &Buildpack{Ref: ref, Name: nameOf(loc.src)}
	if loc.kind == kindDir {
		bp.Dir, err = localDir(ref, loc.src)
	} else {
		bp.Dir, bp.Resolved, err = opts.cached(ctx, ref, loc)
	}
	if err == nil && (loc.kind == kindImage || loc.kind == kindRegistry) {
		if bp.Dir, err = topBuildpack(bp.Dir); err != nil {
			err = invalidf(ref, "%w", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := bp.Validate(); err != nil {
		return nil, err
	}
	return bp, nil
}

// builtin returns a copy of the builtin buildpack named ref, or nil.
func (o Options) builtin(ref string) *Buildpack {
	for _, bp := range o.Builtins {
		if bp.Ref == ref {
			c := *bp
			return &c
		}
	}
	return nil
}

// localDir checks that dir, named by ref, is an existing directory.
func localDir(ref, dir string) (string, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fetchf(ref, "no such directory %s", dir)
	}
	if err != nil {
		return "", fetchf(ref, "%w", err)
	}
	if !fi.IsDir() {
		return "", invalidf(ref, "%s is not a directory, a .tgz archive or a git repository", dir)
	}
	return dir, nil
}

// script is an executable a buildpack may provide.
type script struct {
	name     string
	required bool
}

// scripts are the classic buildpack's entry points; bin/release is optional.
var scripts = []script{{"bin/detect", true}, {"bin/compile", true}, {"bin/release", false}}

// Validate checks that bin/detect and bin/compile are executable regular
// files (or symlinks to such files inside the buildpack) and that
// bin/release, if present, is too; or, for a buildpack with a
// buildpack.toml (a CNB buildpack, which it reads into CNB), that the
// descriptor is one paas runs and bin/detect and bin/build are executable.
// Errors match ErrInvalid.
func (b *Buildpack) Validate() error {
	root, err := filepath.EvalSymlinks(b.Dir)
	if err != nil {
		return invalidf(b.Ref, "%w", err)
	}
	b.CNB, err = readDescriptor(root)
	if err != nil {
		return &refError{ref: b.Ref, class: ErrInvalid, err: err}
	}
	want := scripts
	switch {
	case b.CNB != nil && b.CNB.Meta():
		want = nil // its members run, not it
	case b.CNB != nil:
		want = cnbScripts
	}
	for _, s := range want {
		if err := checkScript(root, s); err != nil {
			return &refError{ref: b.Ref, class: ErrInvalid, err: err}
		}
	}
	return nil
}

// checkScript validates one script under the buildpack directory root.
func checkScript(root string, s script) error {
	p := filepath.Join(root, s.name)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		if !s.required {
			return nil
		}
		return fmt.Errorf("%s is missing; a buildpack needs executable bin/detect and bin/compile (or, with a %s, bin/build)", s.name, DescriptorFile)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("%s is a broken symlink", s.name)
	}
	if !within(root, resolved) {
		return fmt.Errorf("%s links outside the buildpack", s.name)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return fmt.Errorf("checking %s: %w", s.name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", s.name)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable (chmod +x %s)", s.name, s.name)
	}
	return nil
}

// within reports whether path p lies inside directory root; both are
// cleaned absolute paths.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && filepath.IsLocal(rel)
}

// logf writes a progress line when a log is set.
func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintln(o.Log, secret.Redact(fmt.Sprintf(format, args...)))
	}
}
