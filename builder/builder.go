// Package builder is paas's build as a library: from an app directory and
// a stack to an image in the store, and to the outputs and registry asked
// for. `paas build` maps its flags onto Options and prints the Report.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/paas-dev/paas/buildkit"
	"github.com/paas-dev/paas/buildpack"
	"github.com/paas-dev/paas/builtin"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/envfile"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/project"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
	"github.com/paas-dev/paas/trust"
)

// ErrOutput reports an --output or --push that failed after the image was
// stored.
var ErrOutput = fault.New(fault.Output, "output failed")

// Options describe one build. The zero value of each field is its default.
type Options struct {
	AppDir string
	// Tag names the image; "" names it after AppDir (ImageName).
	Tag string
	// Stack is a stack in the store or a transport; "" is $PAAS_STACK,
	// else stacks.Default (created when missing).
	Stack string
	// Buildpacks are references run in order; none means the app's own
	// choice, else $PAAS_BUILDPACKS, else detection with the builtins.
	Buildpacks []string
	// Env are the caller's config vars; the app's .env is read under them.
	Env map[string]string
	// EnvFile is the file Env was read from, if any: left out of the image
	// when it is inside the app.
	EnvFile string
	// CAs are trusted besides the stack's own; nil means the host's.
	CAs *trust.Pool
	// NoCache starts with an empty build cache; Pull re-fetches unpinned
	// remote buildpacks.
	NoCache, Pull bool
	Network       sandbox.Network
	// NoSandbox runs buildpacks on the current root filesystem.
	NoSandbox bool
	// BuildKit, when its Address is set, runs the buildpacks on that
	// BuildKit daemon instead of paas's sandbox; paas exports the image.
	BuildKit    buildkit.Options
	Compression layers.Compression
	// Timeout bounds detect, compile and release together; 0: no limit.
	Timeout time.Duration
	Limits  sandbox.Limits
	// Outputs are transports (oci:DIR, …) the image is also written to;
	// Push a registry reference it is pushed to.
	Outputs []string
	Push    string
	// Console gets the build's output; nil discards it.
	Console *console.Console
}

// Report describes a built image; `paas build --json` prints it.
type Report struct {
	Image      string                    `json:"image"`
	Digest     string                    `json:"digest"`
	Stack      lifecycle.StackLabel      `json:"stack"`
	Buildpacks []lifecycle.UsedBuildpack `json:"buildpacks"`
	Processes  map[string]string         `json:"processes"`
	Layers     []lifecycle.LayerInfo     `json:"layers"`
	Durations  map[string]float64        `json:"durations"`
	Outputs    []string                  `json:"outputs,omitempty"`
	Pushed     string                    `json:"pushed,omitempty"`
	// Unchanged says that the inputs were those of the last build, whose
	// image this is: nothing was built.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Build builds o.AppDir into an image stored in h. A failed build leaves
// the store and existing tags as they were.
func Build(ctx context.Context, h *home.Home, o Options) (*Report, error) {
	start := time.Now()
	if o.Console == nil {
		o.Console = console.New(io.Discard, true)
	}
	b, err := prepare(ctx, h, &o)
	if err != nil {
		return nil, err
	}
	defer b.close()
	report := b.keys(ctx, h, o)
	if report != nil {
		if err := b.reuse(ctx, h, o, report); err != nil {
			return nil, err
		}
	} else if report, err = b.build(ctx, h, o); err != nil {
		return nil, err
	}
	report.Durations["total"] = round(time.Since(start).Seconds())
	o.Console.Step("Built %s (%s) in %s", report.Image, report.Digest, console.Duration(time.Since(start)))
	return report, nil
}

// build runs the buildpacks and exports the image.
func (b *build) build(ctx context.Context, h *home.Home, o Options) (*Report, error) {
	res, err := lifecycle.Build(ctx, b.lifecycleOptions(h, o))
	if err != nil {
		return nil, err
	}
	defer res.Close()
	return b.export(ctx, h, o, res)
}

// build is one build's resolved inputs and the resources it holds.
type build struct {
	appDir, tag string
	stack       *stacks.Resolved
	vars        map[string]string
	builtins    []*buildpack.Buildpack
	work, cache string
	unlock      func()
	// kit is the BuildKit daemon the buildpacks run on, or nil.
	kit *buildkit.Builder
	// buildKey identifies the build's inputs (key), taken with since;
	// "" when they cannot tell an unchanged build.
	buildKey string
	since    time.Time
}

func prepare(ctx context.Context, h *home.Home, o *Options) (_ *build, err error) {
	b := &build{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.appDir, err = filepath.Abs(o.AppDir); err != nil {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrApp, err)
	}
	if b.tag, err = ImageName(o.Tag, b.appDir); err != nil {
		return nil, err
	}
	// A wrong daemon address fails before a default stack is made.
	if o.BuildKit.Address != "" {
		if b.kit, err = buildkit.Dial(ctx, o.BuildKit); err != nil {
			return nil, err
		}
		o.Console.Info("Building on BuildKit at %s", b.kit.Address())
	}
	if b.stack, err = stacks.Resolve(ctx, h, o.Stack, !o.NoSandbox, o.Console); err != nil {
		return nil, err
	}
	if err := lifecycle.CheckAppDir(b.appDir); err != nil {
		return nil, err
	}
	if b.vars, err = configVars(b.appDir, o.Env); err != nil {
		return nil, err
	}
	if b.builtins, err = builtin.Extract(h.Builtin()); err != nil {
		return nil, fmt.Errorf("extracting the builtin buildpacks: %w", err)
	}
	if o.CAs == nil {
		if o.CAs, err = trust.Host(); err != nil {
			return nil, err
		}
	}
	if b.work, err = h.Scratch("build-"); err != nil {
		return nil, err
	}
	repo := oci.Repository(b.tag)
	b.cache, b.unlock, err = h.BuildCache(repo, o.NoCache, func() {
		o.Console.Info("Waiting for another build of %s to release the build cache", repo)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (b *build) close() {
	if b.unlock != nil {
		b.unlock()
	}
	if b.kit != nil {
		_ = b.kit.Close()
	}
	if b.work != "" {
		_ = sandbox.RemoveAll(b.work)
	}
}

func (b *build) lifecycleOptions(h *home.Home, o Options) lifecycle.Options {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = -1 // lifecycle's "no limit"
	}
	lo := lifecycle.Options{
		AppDir:            b.appDir,
		Stack:             lifecycle.Stack{Name: b.stack.Name, Rootfs: b.stack.Rootfs, Env: b.stack.Env},
		Buildpacks:        o.Buildpacks,
		DefaultBuildpacks: defaultBuildpacks(),
		Builtins:          b.builtins,
		Env:               b.vars,
		CacheDir:          b.cache,
		LayersDir:         h.CNBLayers(oci.Repository(b.tag)),
		BuildpackCache:    h.Buildpacks(),
		Pull:              o.Pull,
		WorkDir:           b.work,
		NoSandbox:         o.NoSandbox,
		Network:           o.Network,
		Exclude:           insideApp(b.appDir, o.EnvFile),
		CAs:               o.CAs,
		Timeout:           timeout,
		Limits:            limits(o),
		Proxy:             lifecycle.ProxyEnv(os.Environ()),
		Console:           o.Console,
	}
	if b.kit != nil {
		// CNB buildpacks' layers need paas's own sandbox.
		lo.LayersDir = ""
		lo.Remote = b.onBuildKit(h, o, lo.Proxy)
	}
	return lo
}

// onBuildKit makes the sandbox of a build on BuildKit: the stack's build
// image read from the store, CACHE_DIR a cache mount named after the
// app's repository (as the local cache is), ENV_DIR and the proxy
// settings secrets.
func (b *build) onBuildKit(h *home.Home, o Options, proxy map[string]string) func(context.Context, []sandbox.Mount) (sandbox.Sandbox, error) {
	return func(ctx context.Context, mounts []sandbox.Mount) (sandbox.Sandbox, error) {
		store, err := b.stackLayout(ctx, h)
		if err != nil {
			return nil, err
		}
		return b.kit.Sandbox(ctx, buildkit.Config{
			Store:         store,
			Image:         digest.Digest(b.stack.Digest.String()),
			Mounts:        mounts,
			CacheTarget:   lifecycle.CacheDir,
			CacheID:       "paas/cache/" + oci.Repository(b.tag),
			SecretsTarget: lifecycle.EnvDir,
			EmptyCache:    o.NoCache,
			SecretEnv:     slices.Sorted(maps.Keys(proxy)),
			Network:       o.Network,
			WorkDir:       b.work,
			Info:          o.Console.Info,
		})
	}
}

// stackLayout returns an OCI layout that holds the stack's build image:
// the store, where a stack from the store already is, else a layout of
// the image written in the build's scratch space.
func (b *build) stackLayout(ctx context.Context, h *home.Home) (string, error) {
	if h.Store().Holds(b.stack.Digest) {
		return h.Store().Layout(), nil
	}
	dir := filepath.Join(b.work, "stack")
	if err := oci.Write(ctx, b.stack.Image, "oci:"+dir, b.stack.Name); err != nil {
		return "", fmt.Errorf("writing the stack for BuildKit: %w", err)
	}
	return dir, nil
}

// limits returns the scripts' limits, saying once when the host cannot
// enforce them fully.
func limits(o Options) sandbox.Limits {
	l := o.Limits
	if o.NoSandbox || (l.Pids == 0 && l.Memory == 0) {
		return l
	}
	if err := sandbox.CgroupsAvailable(); err != nil {
		o.Console.Info("Note: %v here (run as root, or with a delegated cgroup v2); processes are limited per user, memory is not", err)
	}
	return l
}

// configVars merges, later winning: project.toml's build env, the app's
// .env, then the caller's.
func configVars(appDir string, given map[string]string) (map[string]string, error) {
	vars := map[string]string{}
	d, err := project.Read(appDir)
	switch {
	case err == nil:
		for _, v := range d.Env {
			vars[v.Name] = v.Value
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrApp, err)
	}
	dotenv, err := envfile.ReadApp(appDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrApp, err)
	}
	maps.Copy(vars, dotenv)
	maps.Copy(vars, given)
	return vars, nil
}

// defaultBuildpacks are tried in order when nothing names a buildpack:
// $PAAS_BUILDPACKS (separated by commas or white space); when it is unset,
// lifecycle detects with the builtin buildpacks.
func defaultBuildpacks() []string {
	return strings.FieldsFunc(os.Getenv("PAAS_BUILDPACKS"), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n' || r == '\t'
	})
}

// insideApp returns file's path relative to appDir when the file is inside
// the app, so that it can be left out of the image.
func insideApp(appDir, file string) []string {
	if file == "" {
		return nil
	}
	abs, err1 := filepath.Abs(file)
	resolved, err2 := filepath.EvalSymlinks(appDir)
	if err1 != nil || err2 != nil {
		return nil
	}
	if f, err := filepath.EvalSymlinks(abs); err == nil {
		abs = f
	}
	rel, err := filepath.Rel(resolved, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}

func round(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }
