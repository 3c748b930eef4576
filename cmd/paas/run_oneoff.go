package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/runner"
)

// errRuntime: the chosen runtime cannot be used.
var errRuntime = errors.New("runtime unavailable")

// exitCodeError carries a one-off process's exit status to paas's own.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string {
	return fmt.Sprintf("the command exited with status %d", e.code)
}

// runOneOff runs a command in a fresh process of the image, with its
// environment and .profile.d, like `dokku run`, and exits with its status.
func runOneOff(ctx context.Context, env *cliEnv, ref string, command []string, o runOptions) error {
	con := console.New(env.stderr, false)
	in, err := prepareRun(ref, o)
	if err != nil {
		return err
	}
	rt, err := chooseRuntime(ctx, con, o)
	if err != nil {
		return err
	}
	defer rt.Close()
	proc, err := rt.Start(ctx, runner.Spec{
		ID:        fmt.Sprintf("%s-run-%d", idSafe(appName(in.name)), time.Now().UnixNano()),
		Image:     in.img,
		ImageName: in.name,
		Args:      command,
		Env:       append([]string{"PORT=5000"}, in.vars...),
		Stdout:    env.stdout,
		Stderr:    env.stderr,
	})
	if err != nil {
		return fmt.Errorf("%w: starting %s: %v", errRuntime, strings.Join(command, " "), err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), o.stopTimeout+30*time.Second)
	defer cancel()
	if err := proc.Stop(stopCtx, o.stopTimeout); err != nil {
		return err
	}
	if code := proc.Exit().Code; code != 0 {
		return exitCodeError{code}
	}
	return nil
}

func idSafe(s string) string {
	return strings.Trim(idReplacer.Replace(s), "-.")
}

var idReplacer = strings.NewReplacer("/", "-", ":", "-", "@", "-")

// pidPath is where a serving paas run records its pid, by image name, so
// `paas run --replace` can find it.
func pidPath(name string) string {
	return filepath.Join(oci.DefaultHome(), "run", "serving", idSafe(name)+".pid")
}

func writePidFile(name string) (string, error) {
	p := pidPath(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// signalReplace asks the paas run serving the image to replace its
// process with the image as the store has it now (SIGHUP).
func signalReplace(env *cliEnv, ref string, o runOptions) error {
	name := ref
	if !isTransport(ref) {
		n, err := oci.NormalizeName(ref)
		if err != nil {
			return usageError{fmt.Sprintf("image %q: %v", ref, err)}
		}
		name = n
	}
	data, err := os.ReadFile(pidPath(name))
	if err != nil {
		return fmt.Errorf("%w: no paas run is serving %s (%v)", errRuntime, name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || syscall.Kill(pid, syscall.SIGHUP) != nil {
		return fmt.Errorf("%w: the paas run serving %s (pid %q) is gone", errRuntime, name, strings.TrimSpace(string(data)))
	}
	fmt.Fprintf(env.stderr, "-----> Asked paas run (pid %d) to replace %s; it logs the outcome\n", pid, name)
	return nil
}

// appFileFromImage returns the content of /app/NAME from the image's
// layers (the last layer holding it wins), or nil when there is none.
func appFileFromImage(img v1.Image, name string) ([]byte, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i := len(ls) - 1; i >= 0; i-- {
		data, found, err := fileFromLayer(ls[i], "app/"+name)
		if err != nil || found {
			return data, err
		}
	}
	return nil, nil
}

// fileFromLayer streams a layer looking for one small file.
func fileFromLayer(l v1.Layer, path string) ([]byte, bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading layer: %w", err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == path && hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			return data, true, err
		}
	}
}
