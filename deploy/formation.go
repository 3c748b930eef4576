package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/fault"
)

// ErrFormation reports a formation (--scale, --process, app.json
// `formation`) that cannot run.
var ErrFormation = fault.New(fault.Usage, "invalid formation")

// ReleaseType is the process type Heroku runs once before a deploy, its
// release phase; it is never part of a formation.
const ReleaseType = "release"

// MaxQuantity bounds the processes of one type: each takes a port, memory
// and a share of the proxy.
const MaxQuantity = 32

// Formation is how many processes of each type a deploy runs. Types with
// none are left out.
type Formation map[string]int

// Types returns the types in the order they start: web first, then the
// others by name.
func (f Formation) Types() []string {
	return slices.SortedFunc(maps.Keys(f), func(a, b string) int {
		if (a == "web") != (b == "web") {
			if a == "web" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
}

// String lists the formation as "web=3, worker=1".
func (f Formation) String() string {
	parts := make([]string, 0, len(f))
	for _, t := range f.Types() {
		parts = append(parts, fmt.Sprintf("%s=%d", t, f[t]))
	}
	return strings.Join(parts, ", ")
}

// ParseScale reads --scale's "web=3,worker=1" (as `dokku ps:scale` takes
// it); "" is no formation.
func ParseScale(s string) (Formation, error) {
	f := Formation{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		typ, n, ok := strings.Cut(item, "=")
		q, err := strconv.Atoi(n)
		if !ok || typ == "" || err != nil {
			return nil, fmt.Errorf("%w: --scale %q: want TYPE=N[,TYPE=N…], such as web=2,worker=1", ErrFormation, item)
		}
		f[typ] = q
	}
	return f, nil
}

// formationOf decides what runs: o.Process alone when given; else one
// process of the image's default type (web, else its only type), then the
// quantities of the image's app.json `formation`, then o.Scale's.
func formationOf(img v1.Image, m *manifest, o Options) (Formation, error) {
	in, err := appimage.Inspect(img, o.Image)
	if err != nil {
		return nil, err
	}
	f := Formation{}
	switch {
	case o.Process != "":
		if len(o.Scale) > 0 {
			return nil, fmt.Errorf("%w: give --process or --scale, not both", ErrFormation)
		}
		f[o.Process] = 1
	default:
		if in.Default != "" {
			f[in.Default] = 1
		}
		if err := appJSONFormation(m, f); err != nil {
			return nil, err
		}
		maps.Copy(f, o.Scale)
	}
	return f, f.check(in.Processes)
}

// appJSONFormation sets the quantities the image's app.json gives.
func appJSONFormation(m *manifest, f Formation) error {
	if len(m.Formation) == 0 {
		return nil
	}
	var entries map[string]struct {
		Quantity *int `json:"quantity"`
	}
	if err := json.Unmarshal(m.Formation, &entries); err != nil {
		return fmt.Errorf("%w: the image's app.json formation: %w (want {\"TYPE\": {\"quantity\": N}})", ErrFormation, err)
	}
	for typ, e := range entries {
		if e.Quantity != nil {
			f[typ] = *e.Quantity
		}
	}
	return nil
}

// check drops the types with no process and refuses what cannot run.
func (f Formation) check(processes map[string]string) error {
	for _, typ := range slices.Sorted(maps.Keys(f)) {
		n := f[typ]
		switch {
		case n < 0 || n > MaxQuantity:
			return fmt.Errorf("%w: %s=%d: want 0 to %d processes of a type", ErrFormation, typ, n, MaxQuantity)
		case n == 0:
			delete(f, typ)
		case typ == ReleaseType:
			return fmt.Errorf("%w: %s runs once before each deploy, not as a process of the formation", ErrFormation, ReleaseType)
		case processes[typ] == "":
			return fmt.Errorf("%w: the image has no process type %q (it has: %s); see its Procfile", ErrFormation, typ, typeList(processes))
		}
	}
	if len(f) == 0 {
		return fmt.Errorf("%w: nothing to run: the formation has no process (image types: %s); scale one up with --scale TYPE=N", ErrFormation, typeList(processes))
	}
	return nil
}

func typeList(processes map[string]string) string {
	if len(processes) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(processes)), ", ")
}
