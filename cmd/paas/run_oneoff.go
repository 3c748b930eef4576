package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/runner"
)

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
		return fmt.Errorf("%w: starting %s: %w", errRuntime, strings.Join(command, " "), err)
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
