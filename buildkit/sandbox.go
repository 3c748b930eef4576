package buildkit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/log"
	"github.com/moby/buildkit/client/llb"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	"github.com/tonistiigi/fsutil"

	"github.com/paas-dev/paas/sandbox"
)

// Config is what a build's commands run on.
type Config struct {
	// Store is the OCI layout that holds Image, the stack's build image
	// (a manifest digest): BuildKit reads it through the session.
	Store string
	Image digest.Digest
	// Mounts are the build's mounts, as for a local sandbox. The one at
	// CacheTarget becomes the cache mount CacheID; the files of the
	// directory at SecretsTarget become secret mounts. Every other one is
	// sent with each command, and a writable one is replaced on the host
	// by what the command left in it.
	Mounts        []sandbox.Mount
	CacheTarget   string
	CacheID       string
	SecretsTarget string
	// EmptyCache empties the cache mount before the first command
	// (--no-cache).
	EmptyCache bool
	// SecretEnv names environment variables whose values go to the daemon
	// as secrets, never in a definition: the proxy settings, which may hold
	// credentials.
	SecretEnv []string
	Network   sandbox.Network
	// WorkDir is host scratch space for what comes back; the caller
	// removes it.
	WorkDir string
	// Info, when set, gets what people should know of long waits.
	Info func(format string, args ...any)
}

// storeID names paas's store in the session.
const storeID = "paas-store"

// stackVertex names the op that reads the stack's build image, which
// takes a while the first time a daemon sees the stack.
const stackVertex = "paas: the stack's build image"

// stdoutDir is where a command's stdout is kept when the caller reads it
// as data (see Run).
const stdoutDir = "/paas/.stdout"

// maxCaptured bounds a captured stdout on the worker. It is above every
// limit the lifecycle puts on what it reads (a detect's, a release's, an
// export's), so output past it fails there as over that limit.
const maxCaptured = 8 << 20

// captureScript runs "$@" with its stdout, cut at maxCaptured bytes and
// one more, in stdoutDir/out, and its exit status in stdoutDir/status: a
// command that prints without end is stopped by SIGPIPE instead of
// filling the worker's disk. Both files are opened before the command
// starts, so that swapping them for FIFOs cannot make the script hang.
var captureScript = fmt.Sprintf(`exec 3>%[1]s/out 4>%[1]s/status; { "$@" 3>&- 4>&-; echo $? >&4; } | head -c %[2]d >&3`,
	stdoutDir, maxCaptured+1)

var quietContainerd sync.Once

// Sandbox returns a sandbox.Sandbox whose commands run on the daemon.
func (b *Builder) Sandbox(ctx context.Context, cfg Config) (sandbox.Sandbox, error) {
	quietContainerd.Do(func() {
		// containerd's content store warns, through the process-wide
		// logger, about fs-verity that a store only read does not need.
		log.L.Logger.SetLevel(logrus.ErrorLevel)
	})
	store, err := contentlocal.NewStore(cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("opening the store for BuildKit: %w", err)
	}
	r := &remote{b: b, cfg: cfg, store: store, nonce: rand.Text()}
	if cfg.EmptyCache {
		if err := r.emptyCache(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

type remote struct {
	b     *Builder
	cfg   Config
	store content.Store
	nonce string       // random, one per sandbox (fresh)
	ops   atomic.Int64 // made so far (fresh)
	// loading says once that the daemon takes the stack in.
	loading sync.Once
}

// Path is the identity: commands see the paths they were given.
func (r *remote) Path(target string) string { return target }

// Run runs cmd as one exec op and brings its writable mounts back. When
// Stdout and Stderr are different writers, the caller reads stdout as data
// (a detect's name, a release's YAML): it is written to a file in the op
// and delivered whole after it, since BuildKit clips and rate-limits the
// logs it streams. When they are the same writer, both streams are output
// for people, shown live.
func (r *remote) Run(ctx context.Context, cmd *sandbox.Cmd) error {
	if cmd.Stdin != nil {
		return errors.New("BuildKit commands have no stdin")
	}
	o, err := r.op(cmd)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(r.cfg.WorkDir, "buildkit-")
	if err != nil {
		return err
	}
	defer sandbox.RemoveAll(work)
	out := filepath.Join(work, "out")
	if err := r.solve(ctx, o, out, cmd); err != nil {
		return err
	}
	if err := o.bringBack(out, work); err != nil {
		return err
	}
	if !o.capture {
		return nil
	}
	return delivered(out, cmd.Stdout)
}

// op is one command as LLB, with what comes back from it.
type op struct {
	result  llb.State
	locals  map[string]fsutil.FS
	secrets map[string][]byte
	back    []sandbox.Mount // writable mounts, in the result as back<i>
	capture bool
}

func (r *remote) op(cmd *sandbox.Cmd) (*op, error) {
	o := &op{locals: map[string]fsutil.FS{}, secrets: map[string][]byte{}}
	args := cmd.Args
	o.capture = cmd.Stdout != nil && cmd.Stdout != cmd.Stderr
	if o.capture {
		args = append([]string{"/bin/sh", "-c", captureScript, "sh"}, args...)
	}
	dir := cmd.Dir
	if dir == "" {
		dir = "/"
	}
	run := []llb.RunOption{llb.Args(args), llb.Dir(dir), llb.User(fmt.Sprintf("%d:%d", cmd.UID, cmd.GID)),
		llb.WithCustomName(strings.Join(cmd.Args, " ")), r.fresh()}
	run = append(run, r.env(o, cmd.Env)...)
	if r.cfg.Network == sandbox.NetworkNone {
		run = append(run, llb.Network(llb.NetModeNone))
	}
	for i, m := range r.cfg.Mounts {
		opts, err := r.mount(o, i, m)
		if err != nil {
			return nil, err
		}
		run = append(run, opts...)
	}
	exec := r.stack().Run(run...)
	result := llb.Scratch()
	for i, m := range o.back {
		// The mount's output is its parent, holding it by its own name.
		result = result.File(llb.Copy(exec.GetMount(m.Target), "/"+filepath.Base(m.Source), "/back"+strconv.Itoa(i)+"/",
			&llb.CopyInfo{CreateDestPath: true}))
	}
	if o.capture {
		result = result.File(llb.Copy(exec.GetMount(stdoutDir), "/", "/stdout",
			&llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}))
	}
	o.result = result
	return o, nil
}

// fresh mounts stdoutDir with a file that holds the sandbox's nonce and
// the op's number, so that no op is ever a cache hit of another: what a
// command depends on beyond its definition (secrets, the network, the
// cache mount) is in no cache key. (llb.IgnoreCache would do it too, but
// it also gives the op a new, empty cache mount.)
func (r *remote) fresh() llb.RunOption {
	nonce := r.nonce + " " + strconv.FormatInt(r.ops.Add(1), 10)
	return llb.AddMount(stdoutDir, llb.Scratch().File(llb.Mkfile("/.nonce", 0o444, []byte(nonce))))
}

// stack is the stack's build image, read from the store through the
// session; the name is only shown.
func (r *remote) stack() llb.State {
	return llb.OCILayout("paas.local/stack@"+r.cfg.Image.String(), llb.OCIStore("", storeID),
		llb.WithCustomName(stackVertex))
}

// env gives the command its environment: SecretEnv variables as secrets,
// the others in the definition.
func (r *remote) env(o *op, env []string) []llb.RunOption {
	if env == nil {
		env = []string{"PATH=" + sandbox.DefaultPath}
	}
	var run []llb.RunOption
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(r.cfg.SecretEnv, k) {
			run = append(run, llb.AddEnv(k, v))
			continue
		}
		id := "env-var/" + k
		o.secrets[id] = []byte(v)
		run = append(run, llb.AddSecret(k, llb.SecretID(id), llb.SecretAsEnv(true)))
	}
	return run
}

// mount is how one of the build's mounts reaches the op.
func (r *remote) mount(o *op, i int, m sandbox.Mount) ([]llb.RunOption, error) {
	switch {
	case m.Upper != "":
		return nil, fmt.Errorf("BuildKit cannot show %s as an overlay", m.Target)
	case m.Target == r.cfg.CacheTarget:
		return []llb.RunOption{r.cacheMount(m.Target)}, nil
	case m.Target == r.cfg.SecretsTarget:
		return secretMounts(o, m)
	}
	// A mount travels as the one entry of its parent directory, so that
	// what the command does to the mount point itself (its mode) comes
	// back too. Every file is sent every time: the daemon's copy of an
	// earlier upload, compared by metadata, could hide a change that kept
	// a file's size and time.
	name, base := "m"+strconv.Itoa(i), filepath.Base(m.Source)
	fs, err := fsutil.NewFS(filepath.Dir(m.Source))
	if err != nil {
		return nil, err
	}
	o.locals[name] = fs
	src := llb.Local(name, llb.FollowPaths([]string{base}), llb.Differ(llb.DiffNone, true))
	mopts := []llb.MountOption{llb.SourcePath("/" + base)}
	if m.ReadOnly {
		mopts = append(mopts, llb.Readonly)
	} else {
		o.back = append(o.back, m)
	}
	return []llb.RunOption{llb.AddMount(m.Target, src, mopts...)}, nil
}

// cacheMount is CACHE_DIR: the daemon's cache mount named CacheID, which
// one command at a time uses.
func (r *remote) cacheMount(target string) llb.RunOption {
	return llb.AddMount(target, llb.Scratch(), llb.AsPersistentCacheDir(r.cfg.CacheID, llb.CacheMountLocked))
}

// secretMounts shows each file of m's directory as a secret file of the
// same name under m.Target, on a tmpfs; the values go to the daemon only
// through the session, never into a cache key, a snapshot or a layer.
func secretMounts(o *op, m sandbox.Mount) ([]llb.RunOption, error) {
	entries, err := os.ReadDir(m.Source)
	if err != nil {
		return nil, err
	}
	run := []llb.RunOption{llb.AddMount(m.Target, llb.Scratch(), llb.Tmpfs())}
	for _, e := range entries {
		value, err := os.ReadFile(filepath.Join(m.Source, e.Name()))
		if err != nil {
			return nil, err
		}
		id := "env/" + e.Name()
		o.secrets[id] = value
		run = append(run, llb.AddSecret(path.Join(m.Target, e.Name()), llb.SecretID(id), llb.SecretFileOpt(0, 0, 0o444)))
	}
	return run, nil
}

// emptyCache empties the cache mount, as --no-cache empties a local
// CACHE_DIR, with the stack's own find.
func (r *remote) emptyCache(ctx context.Context) error {
	const dir = "/paas/cache"
	exec := r.stack().Run(llb.Args([]string{"find", dir, "-mindepth", "1", "-delete"}),
		r.fresh(), r.cacheMount(dir), llb.WithCustomName("empty the build cache"))
	o := &op{result: exec.Root(), locals: map[string]fsutil.FS{}, secrets: map[string][]byte{}}
	if err := r.solve(ctx, o, "", &sandbox.Cmd{}); err != nil {
		return fmt.Errorf("emptying the build cache on BuildKit: %w", err)
	}
	return nil
}
