package lifecycle

import (
	"context"
	"fmt"

	"github.com/paas-dev/paas/buildpack"
)

// A meta-buildpack names groups of buildpacks ([[order]]); detection tries
// them in order, as the CNB lifecycle does. A group passes when every
// member not marked optional passes bin/detect (members that are
// meta-buildpacks themselves pass with one of their own groups), at least
// one does, and the plans of those that passed resolve, leaving out
// optional members where they must. The first group that passes builds the
// app, with those members.

// detectOrder tries meta's groups in order and returns the members of the
// first that passes.
func (b *build) detectOrder(ctx context.Context, meta *prepared) ([]detected, bool, error) {
	for gi, g := range meta.CNB.Order {
		members, optional, ok, err := b.detectGroup(ctx, meta, g)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		_, present, err := resolvePlans(plansOf(members), optional)
		if err != nil {
			b.con.Info("%s: group %d passed detection, but its build plans do not resolve: %v", meta.CNB.Buildpack.ID, gi+1, err)
			continue
		}
		var out []detected
		for i, m := range members {
			if present[i] {
				out = append(out, m)
			}
		}
		b.con.Info("%s: group %d of %d detected the app", meta.CNB.Buildpack.ID, gi+1, len(meta.CNB.Order))
		return out, true, nil
	}
	return nil, false, nil
}

// detectGroup runs the detection of a group's members, stopping at the
// first required one that fails.
func (b *build) detectGroup(ctx context.Context, meta *prepared, g buildpack.Group) (members []detected, optional []bool, ok bool, err error) {
	for _, m := range g.Group {
		dir, err := meta.Component(m.ID, m.Version)
		if err != nil {
			return nil, nil, false, fmt.Errorf("%w: %w", ErrBuildpack, err)
		}
		bp, err := b.prepareBuildpack(ctx, dir, buildpack.EscapeID(m.ID))
		if err != nil {
			return nil, nil, false, err
		}
		if bp.CNB == nil || bp.CNB.Buildpack.ID != m.ID {
			return nil, nil, false, fmt.Errorf("%w: meta-buildpack %s names %s, which is not a Cloud Native Buildpack of that id where it should be", ErrBuildpack, meta.CNB.Buildpack.ID, m.ID)
		}
		var passed []detected
		var pass bool
		if bp.CNB.Meta() {
			passed, pass, err = b.detectOrder(ctx, bp)
		} else {
			pass, err = b.runCNBDetect(ctx, bp)
			passed = []detected{{bp, bp.CNB.DisplayName()}}
		}
		switch {
		case err != nil:
			return nil, nil, false, err
		case !pass && m.Optional:
			continue
		case !pass:
			return nil, nil, false, nil
		}
		for range passed {
			optional = append(optional, m.Optional)
		}
		members = append(members, passed...)
	}
	return members, optional, len(members) > 0, nil
}

// plansOf lists the detect plans of buildpacks that passed detection.
func plansOf(ds []detected) []detectPlan {
	plans := make([]detectPlan, len(ds))
	for i, d := range ds {
		plans[i] = d.bp.cnb.plan
	}
	return plans
}
