package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/paas-dev/paas/home"
)

// followPoll is how often Logs looks for new output when following.
const followPoll = 200 * time.Millisecond

// Logs copies the log of the detached paas run serving ref to w; with
// follow, it goes on copying what is written until ctx ends or no paas
// run serves ref any more.
func Logs(ctx context.Context, h *home.Home, ref string, follow bool, w io.Writer) error {
	name, err := servingName(ref)
	if err != nil {
		return err
	}
	f, err := os.Open(h.LogFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s has no log: only paas run -d writes one (a paas run in the foreground writes to its terminal)", ErrRuntime, name)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		serving := len(h.ServingPids(name)) > 0
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
		if !serving {
			_, err := io.Copy(w, f) // what it wrote as it stopped
			return err
		}
	}
}
