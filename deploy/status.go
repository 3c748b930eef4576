package deploy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

// Status is what a serving paas run records of itself, for `paas ps`.
type Status struct {
	// Name is the image as given to paas run, which --replace, logs and
	// stop find it by.
	Name      string    `json:"name"`
	Digest    string    `json:"digest"`
	Formation Formation `json:"formation"`
	// URL is where the proxy listens; "" without web processes.
	URL      string    `json:"url,omitempty"`
	Runtime  string    `json:"runtime"`
	Started  time.Time `json:"started"`
	Restarts int       `json:"restarts"`
	Pid      int       `json:"pid"`
	// Log is the file a detached run writes its output to.
	Log string `json:"log,omitempty"`
}

// List returns the status of every paas run serving from h, by name.
func List(h *home.Home) ([]Status, error) {
	records, err := h.ServingStatus()
	if err != nil {
		return nil, fmt.Errorf("listing the serving paas runs: %w", err)
	}
	out := make([]Status, 0, len(records))
	for pid, data := range records {
		var s Status
		if json.Unmarshal(data, &s) != nil {
			continue
		}
		s.Pid = pid
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Pid, b.Pid)) })
	return out, nil
}

// Stop asks every paas run serving ref to stop, as Ctrl-C does (SIGTERM):
// each drains its requests and stops its processes. It waits up to
// timeout for them to end and returns their pids.
func Stop(h *home.Home, ref string, timeout time.Duration) ([]int, error) {
	name, err := servingName(ref)
	if err != nil {
		return nil, err
	}
	pids, err := h.SignalServing(name, unix.SIGTERM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%w: no paas run is serving %s (see paas ps)", ErrRuntime, name)
	}
	deadline := time.Now().Add(timeout)
	for len(h.ServingPids(name)) > 0 {
		if time.Now().After(deadline) {
			return pids, fmt.Errorf("%w: paas run serving %s (pids %v) still running %s after SIGTERM", ErrRuntime, name, h.ServingPids(name), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return pids, nil
}

// servingName is the name paas run records ref under: a store name
// normalised, or the transport as given.
func servingName(ref string) (string, error) {
	if oci.IsTransport(ref) {
		return ref, nil
	}
	return oci.NormalizeName(ref)
}

// recordStatus writes the deploy's status for paas ps.
func (d *deployment) recordStatus() {
	if d.serving == nil {
		return
	}
	img, _ := d.current()
	s := Status{
		Name: d.target.key, Formation: d.formation, URL: d.url, Runtime: d.rt.Name(),
		Started: d.startedAt, Restarts: int(d.restarts.Load()), Log: d.o.LogFile,
	}
	if dg, err := img.Digest(); err == nil {
		s.Digest = dg.String()
	}
	data, err := json.Marshal(s)
	if err == nil {
		err = d.serving.SetStatus(data)
	}
	if err != nil {
		d.o.Console.Warn("recording the status for paas ps: %v", err)
	}
}
