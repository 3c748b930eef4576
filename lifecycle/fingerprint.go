package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/paas-dev/paas/buildpack"
	"github.com/paas-dev/paas/detect"
	"github.com/paas-dev/paas/fsutil"
)

// inputs is what Fingerprint hashes besides the trees.
type inputs struct {
	App        string            `json:"app"`
	Commit     string            `json:"commit"`
	Origin     string            `json:"origin"`
	Buildpacks []string          `json:"buildpacks"`
	Env        map[string]string `json:"env"`
	Exclude    []string          `json:"exclude"`
	Stack      string            `json:"stack"`
	StackEnv   []string          `json:"stack_env"`
	NoSandbox  bool              `json:"no_sandbox"`
	Network    string            `json:"network"`
	Pids       int               `json:"pids"`
	Memory     int64             `json:"memory"`
	Proxy      map[string]string `json:"proxy"`
	CAs        []byte            `json:"cas"`
}

// Fingerprint hashes every input of a build with opts that is on this
// machine, without running a buildpack: the app's tree as it stands (its
// state, fsutil.StateDigest with since, all of it but .git, whose commit and origin
// count instead), the buildpacks that would be fetched and their trees,
// the config vars, the stack's name and environment, the sandbox's
// network and limits, the proxy settings and the trusted CAs. The stack's
// content, paas itself and the export's settings are the caller's to add.
//
// Two builds with one fingerprint read the same bytes, so they write the
// same files unless a buildpack's output depends on something else: the
// network, the time, randomness, or the build cache. See SPEC.md,
// "Unchanged rebuilds", for why paas treats them as the same build anyway.
//
// Buildpacks are fetched as the build would fetch them (cached remote ones
// are not fetched again), so opts.Pull must be false.
func Fingerprint(ctx context.Context, opts Options, since time.Time) (string, error) {
	if opts.Pull {
		return "", fmt.Errorf("no fingerprint when re-fetching buildpacks")
	}
	if err := CheckAppDir(opts.AppDir); err != nil {
		return "", err
	}
	dir, err := filepath.EvalSymlinks(opts.AppDir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrApp, err)
	}
	in := inputs{
		Env: opts.Env, Exclude: opts.Exclude, Stack: opts.Stack.Name, StackEnv: opts.Stack.Env,
		NoSandbox: opts.NoSandbox, Network: string(opts.Network), Pids: opts.Limits.Pids,
		Memory: opts.Limits.Memory, Proxy: opts.Proxy,
	}
	if opts.CAs != nil {
		in.CAs = opts.CAs.PEM()
	}
	in.Commit, in.Origin = gitInfo(dir)
	if in.App, err = fsutil.StateDigest(dir, func(rel string, _ bool) bool { return rel == ".git" }, since); err != nil {
		return "", err
	}
	if in.Buildpacks, err = buildpackStates(ctx, dir, opts, since); err != nil {
		return "", err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// buildpackStates lists every buildpack the build could run, in order,
// each as its reference, what it resolved to and the state of its tree.
func buildpackStates(ctx context.Context, appDir string, opts Options, since time.Time) ([]string, error) {
	sel, err := detect.Select(detect.Inputs{
		AppDir:   appDir,
		Flags:    opts.Buildpacks,
		Env:      opts.Env,
		Defaults: opts.DefaultBuildpacks,
		Builtins: builtinNames(opts.Builtins),
	})
	if err != nil {
		return nil, err
	}
	states := []string{string(sel.Source)}
	for _, ref := range sel.Refs {
		bp, err := buildpack.Fetch(ctx, ref, opts.fetchOptions(opts.Console.Writer()))
		if err != nil {
			return nil, err
		}
		state, err := fsutil.StateDigest(bp.Dir, skipGit, since)
		if err != nil {
			return nil, err
		}
		states = append(states, fmt.Sprintf("%s %s %s", ref, bp.Resolved, state))
	}
	return states, nil
}
