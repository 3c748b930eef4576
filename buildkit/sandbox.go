package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/log"
	"github.com/sirupsen/logrus"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	digest "github.com/opencontainers/go-digest"
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
	Network       sandbox.Network
	// WorkDir is host scratch space for what comes back; the caller
	// removes it.
	WorkDir string
}

// storeID names paas's store in the session.
const storeID = "paas-store"

// stdoutDir is where a command's whole stdout is kept when the caller
// reads it as data (see Run).
const stdoutDir = "/paas/.stdout"

var quietContainerd sync.Once

// Sandbox returns a sandbox.Sandbox whose commands run on the daemon.
func (b *Builder) Sandbox(cfg Config) (sandbox.Sandbox, error) {
	quietContainerd.Do(func() {
		// containerd's content store warns, through the process-wide
		// logger, about fs-verity that a store only read does not need.
		log.L.Logger.SetLevel(logrus.ErrorLevel)
	})
	store, err := contentlocal.NewStore(cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("opening the store for BuildKit: %w", err)
	}
	return &remote{b: b, cfg: cfg, store: store}, nil
}

type remote struct {
	b     *Builder
	cfg   Config
	store content.Store
	runs  int
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
	r.runs++
	op, err := r.op(cmd)
	if err != nil {
		return err
	}
	def, err := op.result.Marshal(ctx)
	if err != nil {
		return fmt.Errorf("making the BuildKit definition: %w", err)
	}
	// The export lands in a directory of a private (0700) one: what it
	// holds is root's as root, and disarm has not seen it yet.
	private, err := os.MkdirTemp(r.cfg.WorkDir, "buildkit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(private)
	out := filepath.Join(private, "out")
	if err := r.solve(ctx, def, op, out, cmd); err != nil {
		return err
	}
	if err := disarm(out); err != nil {
		return fmt.Errorf("checking what came back from BuildKit: %w", err)
	}
	return op.bringBack(out, cmd.Stdout)
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
		args = append([]string{"/bin/sh", "-c", `exec "$@" >` + stdoutDir + "/out", "sh"}, args...)
	}
	env := cmd.Env
	if env == nil {
		env = []string{"PATH=" + sandbox.DefaultPath}
	}
	dir := cmd.Dir
	if dir == "" {
		dir = "/"
	}
	run := []llb.RunOption{llb.Args(args), llb.Dir(dir), llb.User(fmt.Sprintf("%d:%d", cmd.UID, cmd.GID)),
		llb.WithCustomNamef("%s", strings.Join(cmd.Args, " "))}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		run = append(run, llb.AddEnv(k, v))
	}
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
	if o.capture {
		run = append(run, llb.AddMount(stdoutDir, llb.Scratch()))
	}
	// The name is only shown; the store and the digest find the image.
	base := llb.OCILayout("paas.local/stack@"+r.cfg.Image.String(), llb.OCIStore("", storeID),
		llb.WithCustomName("stack build image "+r.cfg.Image.String()))
	exec := base.Run(run...)
	result := llb.Scratch()
	for i, m := range o.back {
		result = result.File(llb.Copy(exec.GetMount(m.Target), "/", "/back"+strconv.Itoa(i),
			&llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}))
	}
	if o.capture {
		result = result.File(llb.Copy(exec.GetMount(stdoutDir), "/out", "/stdout"))
	}
	o.result = result
	return o, nil
}

// mount is how one of the build's mounts reaches the op.
func (r *remote) mount(o *op, i int, m sandbox.Mount) ([]llb.RunOption, error) {
	switch {
	case m.Upper != "":
		return nil, fmt.Errorf("BuildKit cannot show %s as an overlay", m.Target)
	case m.Target == r.cfg.CacheTarget:
		return []llb.RunOption{llb.AddMount(m.Target, llb.Scratch(),
			llb.AsPersistentCacheDir(r.cfg.CacheID, llb.CacheMountLocked))}, nil
	case m.Target == r.cfg.SecretsTarget:
		return secretMounts(o, m)
	}
	name := "m" + strconv.Itoa(i)
	src, opts := m.Source, []llb.LocalOption{llb.SharedKeyHint(r.cfg.CacheID + "/" + m.Target)}
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	var mopts []llb.MountOption
	if !st.IsDir() {
		// A file travels as the one file of its directory.
		src = filepath.Dir(src)
		opts = append(opts, llb.FollowPaths([]string{filepath.Base(m.Source)}))
		mopts = append(mopts, llb.SourcePath("/"+filepath.Base(m.Source)))
	}
	fs, err := fsutil.NewFS(src)
	if err != nil {
		return nil, err
	}
	o.locals[name] = fs
	if m.ReadOnly {
		mopts = append(mopts, llb.Readonly)
	} else {
		o.back = append(o.back, m)
	}
	return []llb.RunOption{llb.AddMount(m.Target, llb.Local(name, opts...), mopts...)}, nil
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

func (r *remote) solve(ctx context.Context, def *llb.Definition, o *op, out string, cmd *sandbox.Cmd) error {
	status := make(chan *client.SolveStatus)
	done := make(chan struct{})
	go func() {
		defer close(done)
		showLogs(status, o.capture, cmd)
	}()
	_, err := r.b.c.Solve(ctx, def, client.SolveOpt{
		Exports:     []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: out}},
		LocalMounts: o.locals,
		OCIStores:   map[string]content.Store{storeID: r.store},
		SharedKey:   r.cfg.CacheID,
		Session:     []session.Attachable{secretsprovider.FromMap(o.secrets)},
	}, status)
	<-done
	if err == nil {
		return nil
	}
	var exit *gatewaypb.ExitError
	if errors.As(err, &exit) {
		e := &sandbox.ExitError{Code: int(exit.ExitCode)}
		// Like a local sandbox's, a code past 128 is a signal's.
		if e.Code > 128 && e.Code < 128+65 {
			e.Signal = syscall.Signal(e.Code - 128)
		}
		return e
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (on BuildKit)", ctx.Err())
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// showLogs writes the op's output as it comes: stream 1 to Stdout (unless
// it is captured in a file), stream 2 to Stderr.
func showLogs(status <-chan *client.SolveStatus, captured bool, cmd *sandbox.Cmd) {
	for s := range status {
		for _, l := range s.Logs {
			switch {
			case l.Stream == 1 && !captured && cmd.Stdout != nil:
				_, _ = cmd.Stdout.Write(l.Data)
			case l.Stream == 2 && cmd.Stderr != nil:
				_, _ = cmd.Stderr.Write(l.Data)
			}
		}
	}
}

// bringBack puts what the command left in its writable mounts in their
// host sources, and delivers a captured stdout.
func (o *op) bringBack(out string, stdout io.Writer) error {
	for i, m := range o.back {
		if err := replaceDir(filepath.Join(out, "back"+strconv.Itoa(i)), m.Source); err != nil {
			return fmt.Errorf("bringing %s back from BuildKit: %w", m.Target, err)
		}
	}
	if !o.capture {
		return nil
	}
	f, err := os.Open(filepath.Join(out, "stdout"))
	if err != nil {
		return fmt.Errorf("reading the command's output from BuildKit: %w", err)
	}
	defer f.Close()
	_, err = io.Copy(stdout, f)
	return err
}

// disarm removes from dir what a command on BuildKit can make there but
// not in paas's own sandbox, and what only matters on the host: device
// nodes (which export skips anyway), and the set-user-ID and set-group-ID
// bits of files (which export drops): as root, BuildKit's exporter would
// make them root's.
func disarm(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t&fs.ModeDevice != 0:
			return os.Remove(p)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if m := info.Mode(); m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				return os.Chmod(p, m&^(fs.ModeSetuid|fs.ModeSetgid))
			}
		}
		return nil
	})
}

// replaceDir makes dst hold what src holds, keeping dst's own mode.
func replaceDir(src, dst string) error {
	st, err := os.Stat(dst)
	if err != nil {
		return err
	}
	if err := os.Chmod(src, st.Mode().Perm()); err != nil {
		return err
	}
	old := dst + ".old"
	if err := os.Rename(dst, old); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return errors.Join(err, os.Rename(old, dst))
	}
	return sandbox.RemoveAll(old)
}
