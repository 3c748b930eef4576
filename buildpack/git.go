package buildpack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// gitRepo is a buildpack in a git repository, at rev or the default branch.
type gitRepo struct {
	ref, src, rev string
	cas           []byte // PEM; nil: the host's
	caFile        string // cas written out for git, once fetch has
}

// fetch clones the repository into dir, checks out rev detached and drops
// the .git directory, returning the commit sha. A full clone is used
// because a branch, tag or abbreviated sha can only be resolved against the
// remote's history.
func (g gitRepo) fetch(ctx context.Context, dir string) (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", fetchf(g.ref, "git is not installed; install git or use a .tgz buildpack")
	}
	if g.cas != nil {
		g.caFile = dir + ".ca.pem"
		if err := os.WriteFile(g.caFile, g.cas, 0o644); err != nil {
			return "", fmt.Errorf("writing the CA bundle for git: %w", err)
		}
		defer os.Remove(g.caFile)
	}
	if _, err := g.git(ctx, "", "clone", "--quiet", "--no-checkout", "--", g.src, dir); err != nil {
		return "", fetchf(g.ref, "%w", err)
	}
	sha, err := g.resolve(ctx, dir)
	if err != nil {
		return "", err
	}
	if _, err := g.git(ctx, dir, "checkout", "--quiet", "--detach", sha); err != nil {
		return "", fetchf(g.ref, "%w", err)
	}
	// The history is not needed once the commit is checked out, and every
	// build copies the directory.
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		return "", fmt.Errorf("removing the clone's history: %w", err)
	}
	return sha, nil
}

// resolve finds the commit rev names in the clone at dir: a branch, then a
// tag, then a commit sha, and last whatever the remote hands out for rev
// (a tag or commit that no branch reaches).
func (g gitRepo) resolve(ctx context.Context, dir string) (string, error) {
	if g.rev == "" {
		if sha, ok := revParse(ctx, dir, "HEAD"); ok {
			return sha, nil
		}
		return "", fetchf(g.ref, "the repository has no commits")
	}
	for _, name := range []string{"refs/remotes/origin/" + g.rev, "refs/tags/" + g.rev, g.rev} {
		if sha, ok := revParse(ctx, dir, name); ok {
			return sha, nil
		}
	}
	if _, err := g.git(ctx, dir, "fetch", "--quiet", "origin", g.rev); err == nil {
		if sha, ok := revParse(ctx, dir, "FETCH_HEAD"); ok {
			return sha, nil
		}
	}
	return "", fetchf(g.ref, "no branch, tag or commit %q in %s", g.rev, g.src)
}

// revParse returns the commit name resolves to in the repository at dir.
func revParse(ctx context.Context, dir, name string) (string, bool) {
	out, err := runGit(ctx, dir, nil, "rev-parse", "--verify", "--quiet", name+"^{commit}")
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(out), true
}

// git runs git for the repository, trusting its CA bundle when it has one
// and the user set none (GIT_SSL_CAINFO).
func (g gitRepo) git(ctx context.Context, dir string, args ...string) (string, error) {
	var env []string
	if g.caFile != "" && os.Getenv("GIT_SSL_CAINFO") == "" {
		env = append(env, "GIT_SSL_CAINFO="+g.caFile)
	}
	return runGit(ctx, dir, env, args...)
}

// runGit runs git with args in dir, env added to its environment, and
// returns its stdout. The environment keeps git from prompting (no
// terminal is watching) and limits it to transports that fetch data, not
// ones that run commands (ext::).
func runGit(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
		}
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// gitEnv is the process environment plus settings that make git safe to run
// unattended; settings the user made win.
func gitEnv() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	defaults := []string{
		"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
	}
	for _, kv := range defaults {
		if k, _, _ := strings.Cut(kv, "="); os.Getenv(k) == "" {
			env = append(env, kv)
		}
	}
	return env
}
