package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/secret"
)

// Release is what a buildpack's bin/release prints.
type Release struct {
	DefaultProcessTypes map[string]string `yaml:"default_process_types"`
	ConfigVars          map[string]string `yaml:"config_vars"`
	// Addons are requests for hosted services; a self-hosted platform has
	// none to give, so they are read and ignored.
	Addons []string `yaml:"addons"`
}

var processType = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseRelease parses bin/release output. Empty output is an empty release.
func ParseRelease(out []byte) (Release, error) {
	var r Release
	if err := yaml.Unmarshal(out, &r); err != nil {
		return Release{}, fmt.Errorf("invalid YAML: %w", err)
	}
	for typ, cmd := range r.DefaultProcessTypes {
		if !processType.MatchString(typ) {
			return Release{}, fmt.Errorf("process type %q: names are letters, digits, _ and -", typ)
		}
		if cmd == "" {
			return Release{}, fmt.Errorf("process type %q has an empty command", typ)
		}
	}
	for name := range r.ConfigVars {
		if !varName.MatchString(name) {
			return Release{}, fmt.Errorf("config var %q is not a valid variable name", name)
		}
	}
	return r, nil
}

// release collects default process types and config vars from each
// buildpack's bin/release (later buildpacks win per key), then lets the
// Procfile override process types.
func (b *build) release(ctx context.Context) error {
	b.con.Step("Discovering process types")
	processes, vars := map[string]string{}, map[string]string{}
	for _, bp := range b.selected {
		if bp.CNB != nil {
			merge(processes, bp.cnb.processes)
			if bp.cnb.dflt != "" {
				b.result.DefaultProcess = bp.cnb.dflt
			}
			continue
		}
		rel, err := b.runRelease(ctx, bp)
		if err != nil {
			return err
		}
		merge(processes, rel.DefaultProcessTypes)
		merge(vars, rel.ConfigVars)
	}
	b.result.CNBLayers, b.result.LaunchEnv, b.result.SBOM = b.cnb.layers, shell(b.cnb.env), b.cnb.sboms
	b.con.Info("Default types for buildpacks -> %s", typeList(processes))
	// No buildpack runs any more: the host may read the compiled app.
	appDir, err := b.app.finish()
	if err != nil {
		return err
	}
	b.result.AppDir = appDir
	procs, err := readProcfile(appDir)
	switch {
	case err == nil:
		merge(processes, procs)
		b.con.Info("Procfile declares types     -> %s", typeList(procs))
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrProcfile, err)
	}
	b.result.Processes, b.result.ConfigVars = processes, vars
	for _, bp := range b.selected {
		used := UsedBuildpack{Name: bp.Name, Ref: secret.Redact(bp.Ref), Resolved: bp.Resolved, Detected: bp.detected}
		if bp.CNB != nil {
			used.ID, used.Version = bp.CNB.Buildpack.ID, bp.CNB.Buildpack.Version
		}
		b.result.Buildpacks = append(b.result.Buildpacks, used)
	}
	return nil
}

func (b *build) runRelease(ctx context.Context, bp *prepared) (Release, error) {
	if !b.hasBuildpackFile(bp, filepath.Join("bin", "release")) {
		return Release{}, nil
	}
	phase, cancel := withLimit(ctx, b.opts.ReleaseTimeout)
	defer cancel()
	out, overErr, tail, err := b.cappedScript(phase, cancel, bp, "release", maxReleaseOutput, 10)
	if overErr != nil {
		return Release{}, fmt.Errorf("%w: buildpack %s: bin/release %w", ErrRelease, bp.Ref, overErr)
	}
	if timedOut(phase, ctx) {
		return Release{}, fmt.Errorf("%w: buildpack %s: bin/release ran longer than %s", ErrTimeout, bp.Ref, b.opts.ReleaseTimeout)
	}
	if err != nil {
		return Release{}, fmt.Errorf("%w: buildpack %s: bin/release: %w\n%s", ErrRelease, bp.Ref, err, indent(tail.Lines()))
	}
	rel, err := ParseRelease(out)
	if err != nil {
		return Release{}, fmt.Errorf("%w: buildpack %s: bin/release printed %w", ErrRelease, bp.Ref, err)
	}
	return rel, nil
}

func typeList(p map[string]string) string {
	if len(p) == 0 {
		return "(none)"
	}
	types := make([]string, 0, len(p))
	for t := range p {
		types = append(types, t)
	}
	sortStrings(types)
	return strings.Join(types, ", ")
}

func indent(lines []string) string {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(console.Indent + l + "\n")
	}
	return strings.TrimRight(sb.String(), "\n")
}
