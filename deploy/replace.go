package deploy

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

// Replace asks every paas run serving ref to replace its process with the
// image as the store has it now, and returns their pids. Each logs the
// outcome itself.
func Replace(h *home.Home, ref string) ([]int, error) {
	name := ref
	if !oci.IsTransport(ref) {
		n, err := oci.NormalizeName(ref)
		if err != nil {
			return nil, err
		}
		name = n
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
