package deploy

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/runner"
)

// ExitError carries a one-off command's own non-zero exit status.
type ExitError struct{ Code int }

func (e ExitError) Error() string {
	return fmt.Sprintf("the command exited with status %d", e.Code)
}

// OneOff runs command in a fresh process of o.Image, with its environment
// and .profile.d, like `dokku run`, and returns an ExitError when it exits
// non-zero.
func OneOff(ctx context.Context, h *home.Home, command []string, o Options) error {
	t, err := openTarget(h, o.Image)
	if err != nil {
		return err
	}
	rt, err := openRuntime(ctx, h, o)
	if err != nil {
		return err
	}
	defer rt.Close()
	code, err := runOnce(ctx, rt, t, t.img, command, o, nil)
	if err != nil {
		return err
	}
	if code != 0 {
		return ExitError{code}
	}
	return nil
}

// runOnce runs args in a fresh process of img until it exits or ctx ends,
// with PORT=5000 and o.Env, and returns its exit status. Its output goes
// to out, else to o.Stdout and o.Stderr.
func runOnce(ctx context.Context, rt runner.Runtime, t *target, img v1.Image, args []string, o Options, out io.Writer) (int, error) {
	stdout, stderr := o.Stdout, o.Stderr
	if out != nil {
		stdout, stderr = out, out
	}
	proc, err := rt.Start(ctx, runner.Spec{
		ID:        fmt.Sprintf("%s-run-%d", home.IDSafe(oci.Repository(t.name)), time.Now().UnixNano()),
		Image:     img,
		ImageName: t.name,
		Args:      args,
		Env:       append([]string{"PORT=5000"}, o.Env...),
		Stdout:    stdout,
		Stderr:    stderr,
	})
	if err != nil {
		return 0, fmt.Errorf("%w: starting %s: %w", ErrRuntime, strings.Join(args, " "), err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), o.StopTimeout+30*time.Second)
	defer cancel()
	if err := proc.Stop(stopCtx, o.StopTimeout); err != nil {
		return 0, err
	}
	return proc.Exit().Code, nil
}
