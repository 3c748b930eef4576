package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	proc, err := rt.Start(ctx, runner.Spec{
		ID:        fmt.Sprintf("%s-run-%d", home.IDSafe(oci.Repository(t.name)), time.Now().UnixNano()),
		Image:     t.img,
		ImageName: t.name,
		Args:      command,
		Env:       append([]string{"PORT=5000"}, o.Env...),
		Stdout:    o.Stdout,
		Stderr:    o.Stderr,
	})
	if err != nil {
		return fmt.Errorf("%w: starting %s: %w", ErrRuntime, strings.Join(command, " "), err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), o.StopTimeout+30*time.Second)
	defer cancel()
	if err := proc.Stop(stopCtx, o.StopTimeout); err != nil {
		return err
	}
	if code := proc.Exit().Code; code != 0 {
		return ExitError{code}
	}
	return nil
}
