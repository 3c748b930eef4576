package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paas-dev/paas/buildpack"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/secret"
	"github.com/paas-dev/paas/trust"
)

// Paths inside the build sandbox. The app is compiled in place at /app, the
// path it has in the image, so non-relocatable runtimes work unchanged.
const (
	BuildDir      = "/app"
	CacheDir      = "/paas/cache"
	EnvDir        = "/paas/env"
	BuildpacksDir = "/paas/buildpacks"
)

// Stack is the root filesystem the buildpacks run on.
type Stack struct {
	Name   string
	Rootfs string   // unpacked, never modified
	Env    []string // the stack image's own environment (PATH, ...)
}

// Options are the inputs of a build.
type Options struct {
	AppDir string
	Stack  Stack
	// Buildpacks are the --buildpack references, in order.
	Buildpacks []string
	// DefaultBuildpacks are tried in order when nothing names buildpacks;
	// when empty, the Builtins are.
	DefaultBuildpacks []string
	// Builtins are the buildpacks shipped inside paas, which references
	// name by their Ref ("go").
	Builtins []*buildpack.Buildpack
	// Env are the config vars: the app's .env, --env-file and --env merged.
	// Buildpacks see them in ENV_DIR, never in their environment.
	Env map[string]string
	// Exclude are app paths (slash-separated, relative to AppDir) left out
	// of the working copy besides .git, .env and .slugignore matches: an
	// --env-file kept inside the app.
	Exclude []string
	// CacheDir is the persistent CACHE_DIR of this app.
	CacheDir string
	// LayersDir is the app's persistent directory of CNB layers, mounted
	// at /layers; without it, CNB buildpacks cannot run.
	LayersDir string
	// BuildpackCache is where fetched buildpacks are kept.
	BuildpackCache string
	// Pull re-fetches unpinned remote buildpacks.
	Pull bool
	// WorkDir is scratch space for this build; the caller removes it.
	WorkDir string
	// NoSandbox runs the buildpacks on the current root filesystem.
	NoSandbox bool
	// Remote, when set, makes the sandbox every phase runs in from the
	// build's mounts, in place of a local one: a BuildKit daemon's
	// (package buildkit). It must bring writable mounts back to their host
	// sources after each command. The working copy is then a plain copy.
	Remote  func(ctx context.Context, mounts []sandbox.Mount) (sandbox.Sandbox, error)
	Network sandbox.Network
	// CAs are certificate authorities every phase trusts besides the
	// stack's own (the host's and --ca-cert files). They are shown in place
	// of the stack's CA bundle and named by SSL_CERT_FILE and the like; they
	// never reach the app, the cache or the image. Nil keeps the stack's.
	CAs *trust.Pool
	// Proxy are the caller's proxy settings (ProxyEnv), given to every
	// phase.
	Proxy map[string]string
	// Timeout bounds the whole build (0: DefaultTimeout; negative: none);
	// DetectTimeout and ReleaseTimeout each run of bin/detect and
	// bin/release (0: their defaults).
	Timeout, DetectTimeout, ReleaseTimeout time.Duration
	// Limits bound each buildpack script with everything it starts.
	Limits  sandbox.Limits
	Console *console.Console
}

// Result is a built app.
type Result struct {
	// AppDir is the compiled /app tree as this process reads it on the
	// host: a directory inside WorkDir, or, when the working copy was an
	// overlay of the source, a path to the overlay's merged tree
	// (/proc/self/fd/N) that stays valid until Close.
	AppDir        string
	Buildpacks    []UsedBuildpack
	Processes     map[string]string
	ConfigVars    map[string]string
	SourceVersion string
	SourceURL     string
	Durations     []PhaseDuration
	// DependencyDirs are the app directories the buildpacks named in their
	// LayersFile, in the order named.
	DependencyDirs []string
	// CNBLayers are the launch layers of CNB buildpacks, in the order
	// made; each becomes an image layer of its own.
	CNBLayers []CNBLayer
	// LaunchEnv is a shell script the launcher sources before the app's
	// .profile.d: the environment CNB launch layers set.
	LaunchEnv string
	// SBOM are the bills of materials of CNB launch layers, for one image
	// layer under SBOMDir.
	SBOM []SBOMFile
	// DefaultProcess is the process type a CNB buildpack made the default,
	// when the Procfile does not have web.
	DefaultProcess string

	app *workCopy
}

// Close releases what keeps AppDir readable; the caller removes WorkDir.
// A Result nobody closes is released when it is garbage collected.
func (r *Result) Close() error {
	if r == nil || r.app == nil {
		return nil
	}
	return r.app.close()
}

// UsedBuildpack records a buildpack that built the app, for the image's
// io.paas.buildpacks label: enough to repeat the build exactly.
type UsedBuildpack struct {
	Name     string `json:"name"`
	Ref      string `json:"source"`
	Resolved string `json:"resolved,omitempty"`
	Detected string `json:"detected,omitempty"`
	// ID and Version are a Cloud Native Buildpack's, from its
	// buildpack.toml.
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
}

// PhaseDuration is how long one phase took.
type PhaseDuration struct {
	Phase   string  `json:"phase"`
	Seconds float64 `json:"seconds"`
}

// build is the state of one build between phases.
type build struct {
	opts     Options
	con      *console.Console
	sb       sandbox.Sandbox
	env      environ // what every phase's process gets
	exports  map[string]string
	result   *Result
	bpsDir   string // host dir mounted at BuildpacksDir
	app      *workCopy
	selected []*prepared
	prepared int       // buildpacks copied in so far, which numbers them
	caBundle string    // where the phases find the merged CA bundle
	cnb      cnbLaunch // what CNB buildpacks leave for the image
}

// Build runs detect, compile and release over a working copy of the app.
// The source directory is only read.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if err := CheckAppDir(opts.AppDir); err != nil {
		return nil, err
	}
	// The working copy is made from the directory a link names, never the
	// link itself, which would make /app the source, writable.
	dir, err := filepath.EvalSymlinks(opts.AppDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrApp, err)
	}
	opts.AppDir = dir
	opts.setDefaults()
	parent := ctx
	ctx, cancel := withLimit(ctx, opts.Timeout)
	defer cancel()
	b := &build{opts: opts, con: opts.Console, exports: map[string]string{}, result: &Result{}}
	steps := []struct {
		phase string
		run   func(context.Context) error
	}{
		{"prepare", b.prepare},
		{"detect", b.detect},
		{"compile", b.compile},
		{"release", b.release},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(ctx); err != nil {
			_ = b.result.Close()
			if timedOut(ctx, parent) {
				return nil, fmt.Errorf("%w: the build ran longer than %s, in %s (raise the limit with --timeout)", ErrTimeout, opts.Timeout, s.phase)
			}
			return nil, err
		}
		b.result.Durations = append(b.result.Durations, PhaseDuration{s.phase, time.Since(start).Seconds()})
	}
	return b.result, nil
}

// copyWhy says why the working copy is no overlay when none is tried.
func (o *Options) copyWhy() string {
	if o.Remote != nil {
		return "the build runs on BuildKit"
	}
	return "--sandbox none"
}

func (o *Options) setDefaults() {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DetectTimeout == 0 {
		o.DetectTimeout = DefaultDetectTimeout
	}
	if o.ReleaseTimeout == 0 {
		o.ReleaseTimeout = DefaultReleaseTimeout
	}
}

// prepare makes the working copy, ENV_DIR and the sandbox.
func (b *build) prepare(ctx context.Context) error {
	o := b.opts
	filter, err := readAppFilter(o.AppDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrApp, err)
	}
	skip, warn := appSkip(filter, o.Exclude), warnOnce(b.con.Warner())
	app := filepath.Join(o.WorkDir, "app")
	b.app, err = makeWorkCopy(o.AppDir, app, skip, !o.NoSandbox && o.Remote == nil, o.copyWhy(), warn)
	if err != nil {
		return fmt.Errorf("%w: copying the app: %w", ErrApp, err)
	}
	b.result.app = b.app
	b.result.SourceVersion, b.result.SourceURL = gitInfo(o.AppDir)
	// ENV_DIR is also the CNB platform directory's env/ (cnbMounts).
	envDir := filepath.Join(o.WorkDir, "platform", "env")
	if err := writeEnvDir(envDir, o.Env); err != nil {
		return err
	}
	b.bpsDir = filepath.Join(o.WorkDir, "buildpacks")
	if err := os.MkdirAll(b.bpsDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return fmt.Errorf("creating the build cache: %w", err)
	}
	// A cache made before root's sandbox ids moved belongs to ids the
	// mapping lacks; Own gives such files to root inside.
	for _, dir := range []string{app, envDir, b.bpsDir, o.CacheDir} {
		if err := b.own(dir); err != nil {
			return err
		}
	}
	mounts := []sandbox.Mount{
		b.app.mount(),
		{Source: o.CacheDir, Target: CacheDir},
		{Source: envDir, Target: EnvDir, ReadOnly: true},
		{Source: b.bpsDir, Target: BuildpacksDir},
	}
	if mounts, err = b.trustCAs(mounts); err != nil {
		return err
	}
	cnb, err := b.cnbMounts(envDir)
	if err != nil {
		return err
	}
	mounts = append(mounts, cnb...)
	b.sb, err = b.newSandbox(ctx, mounts)
	if errors.Is(err, sandbox.ErrNoOverlay) {
		b.sb, err = b.copyInstead(ctx, mounts, skip, err, warn)
	}
	if err != nil {
		return err
	}
	b.con.Info("Working copy: %s", b.app.how)
	b.env = b.baseEnv()
	return nil
}

// own gives what paas made for the sandbox to root inside it (see
// sandbox.Own): as root, root inside is an unprivileged host user that
// could not otherwise write the working copy or the cache.
func (b *build) own(path string) error {
	if b.opts.NoSandbox || b.opts.Remote != nil {
		return nil
	}
	return sandbox.Own(path)
}

func (b *build) newSandbox(ctx context.Context, mounts []sandbox.Mount) (sandbox.Sandbox, error) {
	if b.opts.Remote != nil {
		return b.opts.Remote(ctx, mounts)
	}
	if b.opts.NoSandbox {
		return sandbox.Host(mounts), nil
	}
	upper := filepath.Join(b.opts.WorkDir, "upper")
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return nil, err
	}
	return sandbox.New(sandbox.Config{
		Root:    b.opts.Stack.Rootfs,
		Upper:   upper,
		Mounts:  mounts,
		Network: b.opts.Network,
		Limits:  b.opts.Limits,
	})
}

// baseEnv is the environment of every buildpack script: the stack's own,
// plus what Heroku and herokuish give buildpacks. Config vars are absent on
// purpose: buildpacks read ENV_DIR.
func (b *build) baseEnv() environ {
	env := parseEnviron(b.opts.Stack.Env)
	if env["PATH"] == "" {
		env["PATH"] = sandbox.DefaultPath
	}
	app := b.sb.Path(BuildDir)
	env["STACK"] = b.opts.Stack.Name
	env["HOME"] = app
	env["APP_DIR"] = app
	env["REQUEST_ID"] = requestID()
	env["CURL_TIMEOUT"] = "600"
	env["CURL_CONNECT_TIMEOUT"] = "30"
	if v := b.result.SourceVersion; v != "" {
		env["SOURCE_VERSION"] = v
	}
	merge(env, b.opts.Proxy)
	merge(env, b.trustEnv())
	return env
}

func requestID() string {
	var buf [16]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

// gitInfo returns the commit and origin URL of a git checkout, or blanks.
func gitInfo(dir string) (commit, url string) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return "", ""
	}
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", dir, "config", "--get", "remote.origin.url").Output(); err == nil {
		url = secret.Redact(strings.TrimSpace(string(out)))
	}
	return commit, url
}

// script runs bin/NAME BUILD_DIR [ARGS...] of a buildpack in /app, with the
// build environment and what earlier buildpacks exported.
func (b *build) script(ctx context.Context, bp *prepared, name string, stdout, stderr io.Writer, args ...string) error {
	return b.run(ctx, bp, name, append([]string{b.sb.Path(BuildDir)}, args...), nil, stdout, stderr)
}

// run runs bp's bin/NAME with args in the app directory, with the build's
// environment and extra.
func (b *build) run(ctx context.Context, bp *prepared, name string, args []string, extra map[string]string, stdout, stderr io.Writer) error {
	env := b.env.with(b.exports)
	merge(env, extra)
	return b.sb.Run(ctx, &sandbox.Cmd{
		Args:   append([]string{b.sb.Path(bp.path("bin/" + name))}, args...),
		Env:    env.list(),
		Dir:    b.sb.Path(BuildDir),
		Stdout: stdout,
		Stderr: stderr,
	})
}

// describeExit says how a script ended, naming the usual cause of a
// SIGKILL: the memory limit.
func describeExit(e *sandbox.ExitError) string {
	switch e.Signal {
	case 0:
		return fmt.Sprintf("exited with status %d", e.Code)
	case syscall.SIGKILL:
		return "was killed (signal 9: out of memory past --memory, or killed from outside)"
	}
	return fmt.Sprintf("was killed by signal %d (%v)", int(e.Signal), e.Signal)
}

func merge(dst, src map[string]string) {
	for k, v := range src {
		dst[k] = v
	}
}
