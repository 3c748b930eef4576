package deploy

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/home"
)

// Replace asks every paas run serving ref to replace its process with the
// image as the store has it now, and returns their pids. Each logs the
// outcome itself.
func Replace(h *home.Home, ref string) ([]int, error) {
	name, err := servingName(ref)
	if err != nil {
		return nil, err
	}
	pids, err := h.SignalServing(name, unix.SIGHUP)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%w: no paas run is serving %s; start one with `paas run %s`", ErrRuntime, name, ref)
	}
	return pids, nil
}
