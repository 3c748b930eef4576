package deploy

import (
	"context"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fault"
)

// ErrReleasePhase reports a release phase that failed: the image's
// release process exited non-zero.
var ErrReleasePhase = fault.New(fault.ReleasePhase, "release phase failed")

// releasePhase runs img's release process once, as Heroku's release phase
// does, when the image has one; its output is shown prefixed
// "release.1 | ". A failure names its status and repeats its last output.
func (d *deployment) releasePhase(ctx context.Context, img v1.Image) error {
	in, err := appimage.Inspect(img, d.target.name)
	if err != nil {
		return err
	}
	command := in.Processes[ReleaseType]
	if command == "" {
		return nil
	}
	start := time.Now()
	d.o.Console.Step("Running the release phase: %s", command)
	tail := console.NewTail(20)
	out := io.MultiWriter(console.NewPrefixer(d.o.Stdout, ReleaseType+".1 | "), tail)
	code, err := runOnce(ctx, d.rt, d.target, img, []string{ReleaseType}, d.o, out)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%w: %s.1 (%s) exited with status %d%s", ErrReleasePhase, ReleaseType, command, code, tail.Quote())
	}
	d.o.Console.Info("Release phase done in %s", console.Duration(time.Since(start)))
	return nil
}
