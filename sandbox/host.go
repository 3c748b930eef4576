package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Host returns a Sandbox that runs commands directly on the current root
// filesystem, without isolation (`--sandbox none`). Its Path maps a target
// under a Mount.Target to the same path under Mount.Source, so callers that
// speak of /app get the host working copy; ReadOnly is not enforced, and
// Run refuses mounts with Upper (it would let commands write Source).
func Host(mounts []Mount) Sandbox {
	return &host{mounts: mounts}
}

type host struct {
	mounts []Mount
}

// killGrace bounds how long Run waits for output after a cancelled command
// died, in case a descendant that escaped its process group holds a pipe.
const killGrace = 5 * time.Second

func (h *host) Run(ctx context.Context, cmd *Cmd) error {
	for _, m := range h.mounts {
		if m.Upper != "" {
			// Commands would write Source itself.
			return fmt.Errorf("running %q: the overlay of %s needs a namespaced sandbox", cmd.Args, m.Source)
		}
	}
	c, err := h.command(ctx, cmd)
	if err != nil {
		return err
	}
	err = c.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("running %s: %w", cmd.Args[0], ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitErrorFrom(ee.Sys().(syscall.WaitStatus))
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", cmd.Args[0], err)
	}
	return nil
}

// command builds the exec.Cmd for cmd. It runs in its own process group so
// cancelling kills the scripts a buildpack started, not only the first one.
func (h *host) command(ctx context.Context, cmd *Cmd) (*exec.Cmd, error) {
	if len(cmd.Args) == 0 {
		return nil, errors.New("running command: no arguments")
	}
	env := commandEnv(cmd.Env)
	path, err := lookPath(cmd.Args[0], envValue(env, "PATH"))
	if err != nil {
		return nil, err
	}
	c := exec.CommandContext(ctx, path, cmd.Args[1:]...)
	c.Args[0] = cmd.Args[0]
	c.Env = env
	c.Dir = h.Path(cmd.Dir)
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: hostCredential(cmd)}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = killGrace
	return c, nil
}

// hostCredential returns nil for the default ids (0 stands for "root inside",
// which on the host is the caller) and a Credential otherwise.
func hostCredential(cmd *Cmd) *syscall.Credential {
	if cmd.UID == 0 && cmd.GID == 0 {
		return nil
	}
	return &syscall.Credential{Uid: uint32(cmd.UID), Gid: uint32(cmd.GID), Groups: []uint32{}}
}

// Path maps target through the mount whose Target is target's longest
// prefix; other paths are left alone.
func (h *host) Path(target string) string {
	if target == "" {
		return ""
	}
	target = filepath.Clean(target)
	best, rest := -1, ""
	for i, m := range h.mounts {
		r, ok := under(target, filepath.Clean(m.Target))
		if ok && (best < 0 || len(m.Target) > len(h.mounts[best].Target)) {
			best, rest = i, r
		}
	}
	if best < 0 {
		return target
	}
	return filepath.Join(h.mounts[best].Source, rest)
}

// under reports whether p is dir or lies beneath it, and the remainder.
func under(p, dir string) (string, bool) {
	if p == dir {
		return "", true
	}
	if dir == "/" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return rest, ok
}

// commandEnv returns env, or the minimal default environment when env is nil.
func commandEnv(env []string) []string {
	if env == nil {
		return []string{"PATH=" + DefaultPath}
	}
	return env
}

// envValue returns the last value of key in env: the one os/exec keeps when
// env has duplicates.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// lookPath resolves name against the PATH the command itself will have,
// rather than the caller's, which exec.LookPath would use.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("looking up %q in PATH %q: %w", name, path, exec.ErrNotFound)
}
