package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/paas-dev/paas/detect"
	"github.com/paas-dev/paas/sandbox"
)

// detect chooses the buildpacks and runs their bin/detect.
func (b *build) detect(ctx context.Context) error {
	b.con.Step("Detecting buildpacks")
	sel, err := detect.Select(detect.Inputs{
		AppDir:   b.opts.AppDir,
		Flags:    b.opts.Buildpacks,
		Env:      b.opts.Env,
		Defaults: b.opts.DefaultBuildpacks,
		Builtins: builtinNames(b.opts.Builtins),
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDetect, err)
	}
	if sel.Source == detect.SourceDetect {
		return b.detectFirst(ctx, sel.Refs)
	}
	b.con.Info("Using buildpacks from %s", sel.Source)
	for _, ref := range sel.Refs {
		chosen, ok, err := b.detectOne(ctx, ref)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: app not compatible with buildpack %s (its bin/detect rejected the app)", ErrDetect, ref)
		}
		b.chose(chosen...)
	}
	return b.resolveCNB()
}

// detectFirst runs the default buildpacks' detect in order; the first that
// passes builds the app alone, as on Heroku.
func (b *build) detectFirst(ctx context.Context, refs []string) error {
	for _, ref := range refs {
		chosen, ok, err := b.detectOne(ctx, ref)
		if err != nil {
			return err
		}
		if ok && chosen[0].bp.CNB != nil {
			if _, _, err := resolvePlans(plansOf(chosen), nil); err != nil {
				b.con.Info("%s passed detection, but its build plan does not resolve alone: %v", ref, err)
				continue
			}
		}
		if ok {
			b.chose(chosen...)
			return b.resolveCNB()
		}
	}
	if len(refs) == 0 {
		return fmt.Errorf("%w: no buildpack was given and there are no default buildpacks; name one with --buildpack, BUILDPACK_URL, app.json buildpacks or a .buildpacks file", ErrDetect)
	}
	return fmt.Errorf("%w: no buildpack detected the app; tried: %s. Name one with --buildpack", ErrDetect, strings.Join(refs, ", "))
}

// detected is a buildpack whose detection passed, and the name it gave.
type detected struct {
	bp   *prepared
	name string
}

// detectOne fetches the buildpack ref and runs its bin/detect; a
// meta-buildpack's groups are tried instead, and the first that passes
// gives its members.
func (b *build) detectOne(ctx context.Context, ref string) ([]detected, bool, error) {
	bp, err := b.prepareBuildpack(ctx, ref, "")
	if err != nil {
		return nil, false, err
	}
	if bp.CNB != nil && bp.CNB.Meta() {
		return b.detectOrder(ctx, bp)
	}
	var name string
	var ok bool
	if bp.CNB != nil {
		name = bp.CNB.DisplayName()
		ok, err = b.runCNBDetect(ctx, bp)
	} else {
		name, ok, err = b.runDetect(ctx, bp)
	}
	return []detected{{bp, name}}, ok, err
}

func (b *build) chose(chosen ...detected) {
	for _, c := range chosen {
		name := c.name
		if name == "" {
			name = c.bp.Name
		}
		b.con.Step("%s app detected", name)
		c.bp.detected = name
		b.selected = append(b.selected, c.bp)
	}
}

// runDetect runs bin/detect BUILD_DIR. Exit 0 passes; its first stdout line
// names the framework.
func (b *build) runDetect(ctx context.Context, bp *prepared) (string, bool, error) {
	phase, cancel := withLimit(ctx, b.opts.DetectTimeout)
	defer cancel()
	out, overErr, _, err := b.cappedScript(phase, cancel, bp, "detect", maxDetectOutput, 20)
	var exit *sandbox.ExitError
	switch {
	case overErr != nil:
		return "", false, fmt.Errorf("%w: buildpack %s: bin/detect %w", ErrDetect, bp.Ref, overErr)
	case timedOut(phase, ctx):
		return "", false, fmt.Errorf("%w: buildpack %s: bin/detect ran longer than %s", ErrTimeout, bp.Ref, b.opts.DetectTimeout)
	case errors.As(err, &exit):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("running %s bin/detect: %w", bp.Ref, err)
	}
	name, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(name), true, nil
}
