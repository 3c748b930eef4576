package lifecycle

import (
	"errors"
	"fmt"
	"strings"

	"github.com/paas-dev/paas/internal/safetoml"
)

// A CNB buildpack's bin/detect may write a build plan: what it provides and
// what it requires, with alternatives under [[or]]. The group's plans
// resolve when some choice of one alternative per buildpack has every
// requirement provided by the same or an earlier buildpack, and every
// provision required by the same or a later one, as in the CNB lifecycle.
// Each providing buildpack's bin/build then gets, as its Buildpack Plan,
// the requirements of what it provides.

// planEntry is a requirement or provision of a build plan.
type planEntry struct {
	Name     string         `toml:"name"`
	Metadata map[string]any `toml:"metadata,omitempty"`
}

// planAlternative is one set of provisions and requirements.
type planAlternative struct {
	Provides []planEntry `toml:"provides"`
	Requires []planEntry `toml:"requires"`
	// absent is an optional buildpack's last choice: left out of the
	// group.
	absent bool
}

// detectPlan is what bin/detect writes to CNB_BUILD_PLAN_PATH.
type detectPlan struct {
	Provides []planEntry       `toml:"provides"`
	Requires []planEntry       `toml:"requires"`
	Or       []planAlternative `toml:"or"`
}

// alternatives lists the plan's choices, the main one first.
func (p detectPlan) alternatives() []planAlternative {
	return append([]planAlternative{{Provides: p.Provides, Requires: p.Requires}}, p.Or...)
}

// parseDetectPlan reads a plan; an empty file is a plan of nothing.
func parseDetectPlan(data []byte) (detectPlan, error) {
	var p detectPlan
	if err := safetoml.Decode(data, &p); err != nil {
		return detectPlan{}, fmt.Errorf("invalid TOML: %w", err)
	}
	for _, alt := range p.alternatives() {
		for _, e := range append(alt.Provides, alt.Requires...) {
			if e.Name == "" {
				return detectPlan{}, errors.New("an entry has no name")
			}
		}
	}
	return p, nil
}

// buildpackPlan is what bin/build reads from CNB_BP_PLAN_PATH.
type buildpackPlan struct {
	Entries []planEntry `toml:"entries"`
}

// maxPlanTrials bounds the choices of alternatives tried.
const maxPlanTrials = 4096

// resolvePlans picks one alternative per plan (in order: every plan's main
// alternative first, then later [[or]] entries, then, for an optional
// buildpack, leaving it out; the last buildpack's varying fastest) under
// which the group's requirements and provisions meet, and returns each
// buildpack's Buildpack Plan and whether it stays in the group. optional
// may be nil: none is.
func resolvePlans(plans []detectPlan, optional []bool) ([]buildpackPlan, []bool, error) {
	alts := make([][]planAlternative, len(plans))
	trials := 1
	for i, p := range plans {
		alts[i] = p.alternatives()
		if i < len(optional) && optional[i] {
			alts[i] = append(alts[i], planAlternative{absent: true})
		}
		trials *= len(alts[i])
		if trials > maxPlanTrials {
			return nil, nil, fmt.Errorf("the buildpacks' plans have more than %d combinations of [[or]] alternatives", maxPlanTrials)
		}
	}
	choice := make([]int, len(plans))
	var firstErr error
	for range trials {
		chosen := make([]planAlternative, len(plans))
		for i, c := range choice {
			chosen[i] = alts[i][c]
		}
		out, err := meet(chosen)
		if err == nil {
			present := make([]bool, len(chosen))
			for i, c := range chosen {
				present[i] = !c.absent
			}
			return out, present, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		for i := len(choice) - 1; i >= 0; i-- {
			if choice[i]++; choice[i] < len(alts[i]) {
				break
			}
			choice[i] = 0
		}
	}
	return nil, nil, firstErr
}

// meet checks one choice of alternatives and gives each buildpack the
// requirements of what it provides.
func meet(chosen []planAlternative) ([]buildpackPlan, error) {
	var unmet []string
	for i, alt := range chosen {
		for _, r := range alt.Requires {
			if !provided(chosen[:i+1], r.Name) {
				unmet = append(unmet, fmt.Sprintf("buildpack %d requires %q, which no buildpack before it provides", i+1, r.Name))
			}
		}
		for _, p := range alt.Provides {
			if !required(chosen[i:], p.Name) {
				unmet = append(unmet, fmt.Sprintf("buildpack %d provides %q, which no buildpack from it on requires", i+1, p.Name))
			}
		}
	}
	if len(unmet) > 0 {
		return nil, errors.New(strings.Join(unmet, "; "))
	}
	out := make([]buildpackPlan, len(chosen))
	for i, alt := range chosen {
		for _, p := range alt.Provides {
			for _, other := range chosen[i:] {
				for _, r := range other.Requires {
					if r.Name == p.Name {
						out[i].Entries = append(out[i].Entries, r)
					}
				}
			}
		}
	}
	return out, nil
}

func provided(alts []planAlternative, name string) bool {
	return names(alts, name, func(a planAlternative) []planEntry { return a.Provides })
}

func required(alts []planAlternative, name string) bool {
	return names(alts, name, func(a planAlternative) []planEntry { return a.Requires })
}

// names reports whether the entries of some alternative name name.
func names(alts []planAlternative, name string, entries func(planAlternative) []planEntry) bool {
	for _, a := range alts {
		for _, e := range entries(a) {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}
