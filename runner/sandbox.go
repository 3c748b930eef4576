package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/paas-dev/paas/rootfs"
	"github.com/paas-dev/paas/sandbox"
)

// sandboxRuntime runs processes in paas's rootless sandbox.
type sandboxRuntime struct {
	rootfs *rootfs.Cache
	runDir string // one directory per running process
	// unmapped says once per runtime that the image's user cannot be
	// mapped and the process runs as root inside the sandbox.
	unmapped sync.Once
}

// NewSandbox returns a runtime that needs no daemon and no privileges: it
// unpacks each image once into a rootfs cache (see package rootfs; by
// default cacheDir/rootfs, WithRootfs shares another), keyed by the
// ChainID of its layers and the sandbox's id mapping, with the image's
// owners as that mapping gives them, and runs every process in its own
// sandbox over that rootfs, with its own writable layer under cacheDir
// (e.g. $PAAS_HOME/run) that Stop removes. Processes share the host's
// network. Unpacked filesystems stay in the cache for the next start.
//
// It fails with an error wrapping sandbox.ErrUnavailable where this
// machine refuses the sandbox's namespaces.
//
// Programs that use it must call sandbox.Reexec first thing in main.
func NewSandbox(cacheDir string, opts ...SandboxOption) (Runtime, error) {
	dir, err := filepath.Abs(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("sandbox runtime: %w", err)
	}
	r := &sandboxRuntime{runDir: filepath.Join(dir, "proc")}
	for _, opt := range opts {
		if err := opt(r); err != nil {
			return nil, fmt.Errorf("sandbox runtime: %w", err)
		}
	}
	if r.rootfs == nil {
		if r.rootfs, err = rootfs.Open(filepath.Join(dir, "rootfs")); err != nil {
			return nil, fmt.Errorf("sandbox runtime: %w", err)
		}
	}
	if err := os.MkdirAll(r.runDir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox runtime: %w", err)
	}
	if err := sandbox.Available(); err != nil {
		return nil, fmt.Errorf("sandbox runtime: %w", err)
	}
	return r, nil
}

// SandboxOption configures NewSandbox.
type SandboxOption func(*sandboxRuntime) error

// WithRootfs makes the runtime unpack images into c, such as the cache of
// unpacked stacks that builds use ($PAAS_HOME/rootfs for paas).
func WithRootfs(c *rootfs.Cache) SandboxOption {
	return func(r *sandboxRuntime) error {
		if c == nil {
			return errors.New("WithRootfs: no cache given")
		}
		r.rootfs = c
		return nil
	}
}

// Name returns "sandbox".
func (r *sandboxRuntime) Name() string { return "sandbox" }

// Close does nothing: processes hold their own resources.
func (r *sandboxRuntime) Close() error { return nil }

// Start unpacks the image unless it is cached and starts the process in a
// new sandbox with its own writable layer.
func (r *sandboxRuntime) Start(ctx context.Context, spec Spec) (_ Process, retErr error) {
	cmd, err := r.command(spec)
	if err != nil {
		return nil, err
	}
	root, err := r.rootfs.Get(ctx, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	dir := filepath.Join(r.runDir, spec.ID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	defer func() {
		if retErr != nil {
			_ = sandbox.RemoveAll(dir)
		}
	}()
	if err := checkCommand(root, cmd.Dir, cmd.Args[len(stopWrapper):], envValue(cmd.Env, "PATH")); err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	sb, err := sandbox.New(sandbox.Config{Root: root, Upper: filepath.Join(dir, "upper"), Network: sandbox.NetworkHost})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	return r.run(sb, cmd, spec.ID, dir)
}

// command builds the sandbox command for spec from the image's config: its
// command line under the stop wrapper, environment, working directory and
// user.
func (r *sandboxRuntime) command(spec Spec) (*sandbox.Cmd, error) {
	cfg, args, err := specCommand(spec)
	if err != nil {
		return nil, err
	}
	uid, gid, err := parseUser(cfg.Config.User)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	return &sandbox.Cmd{
		Args:   slices.Concat(stopWrapper, args),
		Env:    processEnv(cfg.Config.Env, spec.Env),
		Dir:    cfg.Config.WorkingDir,
		Stdout: orDiscard(spec.Stdout),
		Stderr: orDiscard(spec.Stderr),
		UID:    uid,
		GID:    gid,
	}, nil
}

// run starts cmd in sb in the background.
func (r *sandboxRuntime) run(sb sandbox.Sandbox, cmd *sandbox.Cmd, id, dir string) (*sandboxProcess, error) {
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", id, err)
	}
	cmd.Stdin = stopR
	ctx, kill := context.WithCancel(context.Background())
	p := &sandboxProcess{id: id, dir: dir, stopW: stopW, kill: kill, done: make(chan struct{})}
	go func() {
		defer stopR.Close()
		p.finish(r.runCommand(ctx, sb, cmd), cmd.Stderr)
	}()
	return p, nil
}

// runCommand runs cmd, as root inside the sandbox if the image's user has
// no id there (an ordinary user without subordinate ids maps only
// itself, as root).
func (r *sandboxRuntime) runCommand(ctx context.Context, sb sandbox.Sandbox, cmd *sandbox.Cmd) error {
	err := sb.Run(ctx, cmd)
	if !errors.Is(err, sandbox.ErrUnmappedID) {
		return err
	}
	r.unmapped.Do(func() {
		fmt.Fprintf(cmd.Stderr, "paas: the sandbox cannot run the app as user %d:%d (%v); running it as root inside the sandbox, which can write to /app\n",
			cmd.UID, cmd.GID, errors.Unwrap(err))
	})
	cmd.UID, cmd.GID = 0, 0
	return sb.Run(ctx, cmd)
}

// processEnv is the image's environment with extra added, later values
// replacing earlier ones of the same name, and a default PATH if neither
// sets one.
func processEnv(image, extra []string) []string {
	var env []string
	index := map[string]int{}
	for _, kv := range append(append([]string{"PATH=" + sandbox.DefaultPath}, image...), extra...) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			env[i] = kv
			continue
		}
		index[name] = len(env)
		env = append(env, kv)
	}
	return env
}

// envValue returns the value of name in env.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// exitSetupFailed is the exit code of a process the sandbox could not run
// at all, as docker run and the sandbox's init report it.
const exitSetupFailed = 125

// exitFromRun describes how sandbox.Run ended; Run only fails with a
// cancelled context when Stop killed the process.
func exitFromRun(err error, stderr io.Writer) Exit {
	var ee *sandbox.ExitError
	switch {
	case err == nil:
		return Exit{}
	case errors.As(err, &ee) && ee.Signal != 0:
		return exitFromSignal(ee.Signal)
	case errors.As(err, &ee):
		return Exit{Code: ee.Code}
	case errors.Is(err, context.Canceled):
		return exitFromSignal(syscall.SIGKILL)
	}
	fmt.Fprintf(stderr, "paas: %v\n", err)
	return Exit{Code: exitSetupFailed}
}
