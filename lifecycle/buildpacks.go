package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/paas-dev/paas/buildpack"
)

// prepared is a buildpack fetched and copied into the build: each gets a
// private, writable copy, because buildpacks write their export file (and
// sometimes more) into their own directory.
type prepared struct {
	*buildpack.Buildpack
	hostDir  string // the copy on the host
	mountDir string // the copy inside the sandbox
	detected string
	index    int      // among the build's buildpacks, for their scratch directories
	cnb      cnbState // of a CNB buildpack
}

func (p *prepared) path(rel string) string { return path.Join(p.mountDir, rel) }

// inBuildpacks is rel in p's host copy, as a name inside the build's
// buildpacks directory: read through an os.Root of that directory, it
// never leads out of it, even when the buildpack swapped its own
// directory for a link to a host path.
func (p *prepared) inBuildpacks(rel string) string {
	return filepath.Join(filepath.Base(p.hostDir), rel)
}

// hasBuildpackFile reports whether bp's host copy has rel, without
// following links out of the build's buildpacks directory.
func (b *build) hasBuildpackFile(bp *prepared, rel string) bool {
	root, err := os.OpenRoot(b.bpsDir)
	if err != nil {
		return false
	}
	defer root.Close()
	_, err = root.Stat(bp.inBuildpacks(rel))
	return err == nil
}

// prepareBuildpack fetches ref and copies it into the build, named name
// ("": its own name).
func (b *build) prepareBuildpack(ctx context.Context, ref, name string) (*prepared, error) {
	bp, err := buildpack.Fetch(ctx, ref, b.opts.fetchOptions(b.con.Writer()))
	if err != nil {
		if errors.Is(err, buildpack.ErrInvalid) || errors.Is(err, buildpack.ErrFetch) {
			return nil, fmt.Errorf("%w: %w", ErrBuildpack, err)
		}
		return nil, fmt.Errorf("%w: buildpack %s: %w", ErrBuildpack, ref, err)
	}
	if name != "" {
		bp.Name = name
	}
	i := b.prepared
	b.prepared++
	dir := fmt.Sprintf("%d-%s", i, bp.Name)
	p := &prepared{
		Buildpack: bp,
		hostDir:   filepath.Join(b.bpsDir, dir),
		mountDir:  path.Join(BuildpacksDir, dir),
		index:     i,
	}
	if err := copyTree(bp.Dir, p.hostDir, skipGit, nil, nil); err != nil {
		return nil, fmt.Errorf("copying buildpack %s: %w", ref, err)
	}
	if err := b.own(p.hostDir); err != nil {
		return nil, err
	}
	return p, nil
}

// fetchOptions are the buildpack.Options of the build's fetches: its
// cache, builtins and the CAs its phases trust.
func (o Options) fetchOptions(log io.Writer) buildpack.Options {
	f := buildpack.Options{CacheDir: o.BuildpackCache, Pull: o.Pull, Log: log, Builtins: o.Builtins}
	if o.CAs != nil {
		f.CAs = o.CAs.PEM()
	}
	return f
}

// builtinNames returns the names references give builtin buildpacks.
func builtinNames(bps []*buildpack.Buildpack) []string {
	names := make([]string, len(bps))
	for i, bp := range bps {
		names[i] = bp.Ref
	}
	return names
}

func skipGit(rel string, isDir bool) bool { return path.Base(rel) == ".git" }

func sortStrings(s []string) { sort.Strings(s) }

// multiWriter writes to all writers, ignoring a failing one so a closed
// terminal never fails a build. It returns a pointer, which == compares:
// given as both Stdout and Stderr, exec.Cmd then gives the script one pipe
// for both, so its errors stay in order with its output instead of coming
// early, or missing from the last lines an error quotes.
func multiWriter(ws ...io.Writer) io.Writer { return &fanout{ws} }

type fanout struct{ ws []io.Writer }

func (f *fanout) Write(p []byte) (int, error) {
	for _, w := range f.ws {
		_, _ = w.Write(p)
	}
	return len(p), nil
}
