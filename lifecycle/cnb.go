package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/paas-dev/paas/buildpack"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/safetoml"
	"github.com/paas-dev/paas/sandbox"
)

// Paths of the CNB Buildpack API inside the build sandbox. LayersDir keeps
// its path in the image, so what a layer's files say about where they are
// stays true at run time.
const (
	LayersDir   = "/layers"
	PlatformDir = "/paas/platform"
	cnbDir      = "/paas/cnb" // plans, one directory per buildpack
)

// maxMetadata bounds the TOML and environment files of a CNB buildpack that
// paas reads: a hostile buildpack could otherwise make the host read a
// file of any size into memory.
const maxMetadata = 1 << 20

// cnbState is a CNB buildpack's part of the build.
type cnbState struct {
	plan      detectPlan    // what bin/detect wrote
	bpPlan    buildpackPlan // its share of the resolved plan
	processes map[string]string
	dflt      string // the process launch.toml makes the default
}

// cnbLaunch is what CNB buildpacks leave for the image (launch layers and
// the environment they set at launch) and for each other.
type cnbLaunch struct {
	layers []CNBLayer
	env    []envMod
	sboms  []SBOMFile
	// met are the plan entries a buildpack built; later providers of the
	// same entries do not get them (build.toml [[unmet]] hands one on).
	met map[string]bool
	// envLeft and sbomLeft are what the build may still read of
	// environment and SBOM files, which paas holds in memory.
	envLeft, sbomLeft int64
}

// CNBLayer is a launch layer a CNB buildpack made.
type CNBLayer struct {
	HostDir   string // on the host, at export
	Path      string // in the image: /layers/ID/NAME
	Holds     string // for people: buildpack id and layer name
	Buildpack string // its buildpack's id
	Name      string
	Types     LayerTypes
	Metadata  map[string]any // its <layer>.toml [metadata]
	Digest    string         // of the image layer, once exported
	// Kept marks a layer declared without its directory: the last
	// image's layer of that buildpack and name is kept.
	Kept bool
}

// LayerTypes is a <layer>.toml's [types] table.
type LayerTypes struct {
	Launch bool `json:"launch"`
	Build  bool `json:"build"`
	Cache  bool `json:"cache"`
}

// cnbMounts are the CNB Buildpack API's directories: the app's persistent
// layers directory, the platform directory (envDir, ENV_DIR, is its env/),
// and the scratch directory for plans.
func (b *build) cnbMounts(envDir string) ([]sandbox.Mount, error) {
	o := b.opts
	if o.LayersDir == "" {
		return nil, nil
	}
	scratch := filepath.Join(o.WorkDir, "cnb")
	for _, dir := range []string{o.LayersDir, scratch} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := b.own(dir); err != nil {
			return nil, err
		}
	}
	b.cnb.envLeft, b.cnb.sbomLeft = maxEnvTotal, maxSBOMTotal
	if err := restoreLayers(o.LayersDir); err != nil {
		return nil, fmt.Errorf("restoring the CNB layers of the last build: %w", err)
	}
	return []sandbox.Mount{
		{Source: o.LayersDir, Target: LayersDir},
		{Source: filepath.Dir(envDir), Target: PlatformDir, ReadOnly: true},
		{Source: scratch, Target: cnbDir},
	}, nil
}

// restoreLayers prepares the last build's layers for this one, as the CNB
// lifecycle restores them: a cache layer keeps its content, every layer
// keeps its <layer>.toml metadata without its [types] (a buildpack that
// wants to keep a layer declares its types again), and everything else
// (other layers' content, launch.toml, build.toml) goes. Buildpacks wrote
// this tree: it is only touched through an os.Root, which no symlink
// leaves.
func restoreLayers(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	bps, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return err
	}
	for _, bp := range bps {
		if !bp.IsDir() {
			if err := root.RemoveAll(bp.Name()); err != nil {
				return err
			}
			continue
		}
		if err := restoreBuildpackLayers(root, bp.Name()); err != nil {
			return err
		}
	}
	return nil
}

func restoreBuildpackLayers(root *os.Root, bp string) error {
	ents, err := fs.ReadDir(root.FS(), bp)
	if err != nil {
		return err
	}
	keep := map[string]bool{"store.toml": true}
	for _, e := range ents {
		name, isToml := layerToml(e.Name())
		if !isToml || !e.Type().IsRegular() {
			continue
		}
		rel := path.Join(bp, e.Name())
		meta, types, err := readLayerToml(root, rel)
		if err != nil {
			continue // a damaged record: the layer goes
		}
		if err := writeLayerToml(root, rel, meta); err != nil {
			return err
		}
		keep[e.Name()] = true
		keep[name] = types.Cache
	}
	for _, e := range ents {
		if !keep[e.Name()] {
			if err := root.RemoveAll(path.Join(bp, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// layerToml returns the layer a file of a buildpack's layers directory is
// the LAYER.toml of: not launch.toml, build.toml or store.toml, and not a
// name that is no layer's ("." and "..", which would make a layer of the
// directory or its parent, or one with control characters).
func layerToml(file string) (string, bool) {
	name, ok := strings.CutSuffix(file, ".toml")
	switch {
	case !ok, name == "", name == ".", name == "..", name == "launch", name == "build", name == "store":
		return "", false
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", false
	}
	return name, true
}

// readLayerToml reads a <layer>.toml: its whole table, and its types.
func readLayerToml(root *os.Root, rel string) (map[string]any, LayerTypes, error) {
	data, err := fsutil.ReadRegular(root, rel, maxMetadata)
	if err != nil {
		return nil, LayerTypes{}, err
	}
	var meta map[string]any
	if err := safetoml.Decode(data, &meta); err != nil {
		return nil, LayerTypes{}, fmt.Errorf("%s: %w", rel, err)
	}
	var t LayerTypes
	table, _ := meta["types"].(map[string]any)
	for key, dst := range map[string]*bool{"launch": &t.Launch, "build": &t.Build, "cache": &t.Cache} {
		v, set := table[key]
		b, ok := v.(bool)
		if set && !ok {
			return nil, LayerTypes{}, fmt.Errorf("%s: [types] %s is not true or false", rel, key)
		}
		*dst = b
	}
	return meta, t, nil
}

// writeLayerToml rewrites a <layer>.toml with meta less its [types].
func writeLayerToml(root *os.Root, rel string, meta map[string]any) error {
	delete(meta, "types")
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(meta); err != nil {
		return err
	}
	if err := root.Remove(rel); err != nil {
		return err
	}
	return root.WriteFile(rel, buf.Bytes(), 0o644)
}

// cnbEnv is the environment of a CNB buildpack's scripts besides the
// build's own.
func (b *build) cnbEnv(bp *prepared) map[string]string {
	arch := runtime.GOARCH
	return map[string]string{
		"CNB_PLATFORM_DIR":  b.sb.Path(PlatformDir),
		"CNB_BUILDPACK_DIR": b.sb.Path(bp.mountDir),
		"CNB_TARGET_OS":     "linux",
		"CNB_TARGET_ARCH":   arch,
		"CNB_STACK_ID":      b.opts.Stack.Name,
	}
}

// scratch returns bp's directory for its plans, inside the sandbox, and
// creates it on the host.
func (b *build) scratch(bp *prepared) (string, error) {
	root, err := os.OpenRoot(filepath.Join(b.opts.WorkDir, "cnb"))
	if err != nil {
		return "", err
	}
	defer root.Close()
	name := strconv.Itoa(bp.index)
	if err := root.RemoveAll(name); err != nil {
		return "", err
	}
	if err := root.Mkdir(name, 0o755); err != nil {
		return "", err
	}
	return path.Join(cnbDir, name), b.own(filepath.Join(b.opts.WorkDir, "cnb", name))
}

// runCNBDetect runs bin/detect PLATFORM PLAN: 0 passes, 100 fails, any
// other status is an error. What it writes to PLAN is kept for resolving.
func (b *build) runCNBDetect(ctx context.Context, bp *prepared) (bool, error) {
	if b.opts.LayersDir == "" {
		if b.opts.Remote != nil {
			return false, fmt.Errorf("%w: buildpack %s is a Cloud Native Buildpack, which runs only in paas's own sandbox, not on BuildKit (build without --builder)", ErrDetect, bp.Ref)
		}
		return false, fmt.Errorf("%w: buildpack %s is a Cloud Native Buildpack, which this build cannot run (no layers directory)", ErrDetect, bp.Ref)
	}
	dir, err := b.scratch(bp)
	if err != nil {
		return false, err
	}
	plan := path.Join(dir, "plan.toml")
	env := b.cnbEnv(bp)
	env["CNB_BUILD_PLAN_PATH"] = b.sb.Path(plan)
	phase, cancel := withLimit(ctx, b.opts.DetectTimeout)
	defer cancel()
	tail := console.NewTail(20)
	err = b.run(phase, bp, "detect", []string{b.sb.Path(PlatformDir), b.sb.Path(plan)}, env, tail, tail)
	var exit *sandbox.ExitError
	switch {
	case timedOut(phase, ctx):
		return false, fmt.Errorf("%w: buildpack %s: bin/detect ran longer than %s", ErrTimeout, bp.Ref, b.opts.DetectTimeout)
	case errors.As(err, &exit) && exit.Signal == 0 && exit.Code == 100:
		return false, nil
	case errors.As(err, &exit):
		return false, fmt.Errorf("%w: buildpack %s: bin/detect %s (100 means the app is not for it; other statuses are errors); its last output:\n%s",
			ErrDetect, bp.Ref, describeExit(exit), indent(tail.Lines()))
	case err != nil:
		return false, fmt.Errorf("running %s bin/detect: %w", bp.Ref, err)
	}
	data, err := b.readScratch(bp, "plan.toml")
	if err != nil {
		return false, fmt.Errorf("%w: buildpack %s: reading its build plan: %w", ErrDetect, bp.Ref, err)
	}
	if bp.cnb.plan, err = parseDetectPlan(data); err != nil {
		return false, fmt.Errorf("%w: buildpack %s: its build plan: %w", ErrDetect, bp.Ref, err)
	}
	return true, nil
}

// readScratch reads a file a buildpack wrote in its scratch directory,
// without following a symlink out of it; a missing file is empty.
func (b *build) readScratch(bp *prepared, name string) ([]byte, error) {
	// The root is the scratch directories' parent, which no buildpack can
	// replace: bp's own could be a symlink by now.
	root, err := os.OpenRoot(filepath.Join(b.opts.WorkDir, "cnb"))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	data, err := fsutil.ReadRegular(root, path.Join(strconv.Itoa(bp.index), name), maxDetectOutput)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// resolveCNB resolves the build plans of the chosen CNB buildpacks.
func (b *build) resolveCNB() error {
	var cnbs []*prepared
	var plans []detectPlan
	for _, bp := range b.selected {
		if bp.CNB != nil {
			cnbs = append(cnbs, bp)
			plans = append(plans, bp.cnb.plan)
		}
	}
	if len(cnbs) == 0 {
		return nil
	}
	out, _, err := resolvePlans(plans, nil)
	if err != nil {
		return fmt.Errorf("%w: the Cloud Native Buildpacks' build plans do not resolve (buildpacks counted among the CNB ones, in order): %w", ErrDetect, err)
	}
	for i, bp := range cnbs {
		bp.cnb.bpPlan = out[i]
	}
	return nil
}

// runCNBBuild runs bin/build LAYERS PLATFORM PLAN, then takes what its
// layers give the buildpacks after it and the image.
func (b *build) runCNBBuild(ctx context.Context, bp *prepared) error {
	id := buildpack.EscapeID(bp.CNB.Buildpack.ID)
	layers := path.Join(LayersDir, id)
	root, err := os.OpenRoot(b.opts.LayersDir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.MkdirAll(id, 0o755); err != nil {
		return fmt.Errorf("creating the layers directory of %s: %w", bp.Ref, err)
	}
	if err := b.own(filepath.Join(b.opts.LayersDir, id)); err != nil {
		return err
	}
	dir, err := b.scratch(bp)
	if err != nil {
		return err
	}
	bp.cnb.bpPlan.Entries = slices.DeleteFunc(bp.cnb.bpPlan.Entries, func(e planEntry) bool { return b.cnb.met[e.Name] })
	if err := b.writeBuildpackPlan(bp); err != nil {
		return err
	}
	plan := path.Join(dir, "bpplan.toml")
	env := b.cnbEnv(bp)
	env["CNB_LAYERS_DIR"] = b.sb.Path(layers)
	env["CNB_BP_PLAN_PATH"] = b.sb.Path(plan)
	tail := console.NewTail(15)
	out := multiWriter(b.con.Writer(), tail)
	err = b.run(ctx, bp, "build", []string{b.sb.Path(layers), b.sb.Path(PlatformDir), b.sb.Path(plan)}, env, out, out)
	var exit *sandbox.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%w: buildpack %s: bin/build %s; its last output:\n%s", ErrCompile, bp.Ref, describeExit(exit), indent(tail.Lines()))
	}
	if err != nil {
		return fmt.Errorf("%w: buildpack %s: running bin/build: %w", ErrCompile, bp.Ref, err)
	}
	if err := b.takeLayers(root, bp, id); err != nil {
		return err
	}
	return b.meet(root, bp, id)
}

// buildToml is the part of build.toml paas reads.
type buildToml struct {
	Unmet []struct {
		Name string `toml:"name"`
	} `toml:"unmet"`
}

// meet marks the entries of bp's plan that its build.toml does not list as
// unmet as met: the providers after it do not get them.
func (b *build) meet(root *os.Root, bp *prepared, id string) error {
	var bt buildToml
	data, err := fsutil.ReadRegular(root, path.Join(id, "build.toml"), maxMetadata)
	switch {
	case err == nil:
		if err := safetoml.Decode(data, &bt); err != nil {
			return fmt.Errorf("%w: buildpack %s: build.toml: %w", ErrCompile, bp.Ref, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: buildpack %s: reading build.toml: %w", ErrCompile, bp.Ref, err)
	}
	unmet := map[string]bool{}
	for _, u := range bt.Unmet {
		unmet[u.Name] = true
	}
	if b.cnb.met == nil {
		b.cnb.met = map[string]bool{}
	}
	for _, e := range bp.cnb.bpPlan.Entries {
		if !unmet[e.Name] {
			b.cnb.met[e.Name] = true
		}
	}
	return nil
}

// writeBuildpackPlan writes bp's share of the plan into its scratch
// directory, which the host writes only through an os.Root.
func (b *build) writeBuildpackPlan(bp *prepared) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(bp.cnb.bpPlan); err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Join(b.opts.WorkDir, "cnb"))
	if err != nil {
		return err
	}
	defer root.Close()
	return root.WriteFile(path.Join(strconv.Itoa(bp.index), "bpplan.toml"), buf.Bytes(), 0o644)
}

// takeLayers reads what bp's build left in its layers directory: build
// layers change the environment of the buildpacks after it, launch layers
// and launch.toml go into the image.
func (b *build) takeLayers(root *os.Root, bp *prepared, id string) error {
	warn := func(msg string) { b.con.Warn("buildpack %s: %s", bp.Ref, msg) }
	ents, err := fs.ReadDir(root.FS(), id)
	if err != nil {
		return fmt.Errorf("%w: buildpack %s: reading its layers: %w", ErrCompile, bp.Ref, err)
	}
	var buildMods []envMod
	var launched []string
	for _, e := range ents {
		name, isToml := layerToml(e.Name())
		if !isToml {
			continue
		}
		dir := path.Join(id, name)
		meta, types, err := readLayerToml(root, path.Join(id, e.Name()))
		if err != nil {
			warn(fmt.Sprintf("layer %s: %v; the layer is ignored", name, err))
			continue
		}
		at := path.Join(LayersDir, dir)
		if fi, err := root.Lstat(dir); err != nil || !fi.IsDir() {
			if types.Launch {
				// Kept as it is in the last image, as the CNB lifecycle
				// does: the buildpack declared it, its content is there.
				data, _ := meta["metadata"].(map[string]any)
				b.cnb.layers = append(b.cnb.layers, CNBLayer{Path: at, Holds: bp.CNB.Buildpack.ID + " layer " + name,
					Buildpack: bp.CNB.Buildpack.ID, Name: name, Types: types, Metadata: data, Kept: true})
			}
			continue
		}
		if types.Build {
			buildMods = append(buildMods, pathMods(root, dir, b.sb.Path(at), true)...)
			buildMods = append(buildMods, readEnvDir(root, path.Join(dir, "env"), &b.cnb.envLeft, warn)...)
			buildMods = append(buildMods, readEnvDir(root, path.Join(dir, "env.build"), &b.cnb.envLeft, warn)...)
		}
		if types.Launch {
			l := &b.cnb
			l.env = append(l.env, pathMods(root, dir, at, false)...)
			l.env = append(l.env, readEnvDir(root, path.Join(dir, "env"), &b.cnb.envLeft, warn)...)
			l.env = append(l.env, readEnvDir(root, path.Join(dir, "env.launch"), &b.cnb.envLeft, warn)...)
			l.env = append(l.env, processEnvDirs(root, path.Join(dir, "env.launch"), &b.cnb.envLeft, warn)...)
			l.env = append(l.env, execDDirs(root, dir, at)...)
			data, _ := meta["metadata"].(map[string]any)
			l.layers = append(l.layers, CNBLayer{
				HostDir:   filepath.Join(b.opts.LayersDir, id, name),
				Path:      at,
				Holds:     bp.CNB.Buildpack.ID + " layer " + name,
				Buildpack: bp.CNB.Buildpack.ID,
				Name:      name,
				Types:     types,
				Metadata:  data,
			})
			launched = append(launched, name)
		}
	}
	b.takeSBOMs(root, bp, id, launched)
	env := b.env.with(b.exports)
	apply(env, buildMods)
	for _, m := range buildMods {
		b.exports[m.name] = env[m.name]
	}
	return b.readLaunchToml(root, bp, id)
}

// launchToml is the part of launch.toml paas reads.
type launchToml struct {
	Processes []struct {
		Type       string   `toml:"type"`
		Command    any      `toml:"command"` // a list since API 0.9; a string before
		Args       []string `toml:"args"`
		Default    bool     `toml:"default"`
		WorkingDir string   `toml:"working-dir"`
	} `toml:"processes"`
}

// readLaunchToml adds bp's processes. A process's command and args are
// run as they are, without a shell: each word is quoted for the launcher's.
func (b *build) readLaunchToml(root *os.Root, bp *prepared, id string) error {
	data, err := fsutil.ReadRegular(root, path.Join(id, "launch.toml"), maxMetadata)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: buildpack %s: reading launch.toml: %w", ErrCompile, bp.Ref, err)
	}
	var lt launchToml
	if err := safetoml.Decode(data, &lt); err != nil {
		return fmt.Errorf("%w: buildpack %s: launch.toml: %w", ErrCompile, bp.Ref, err)
	}
	bp.cnb.processes = map[string]string{}
	for _, p := range lt.Processes {
		words, err := commandWords(p.Command)
		if err != nil || !processType.MatchString(p.Type) {
			return fmt.Errorf("%w: buildpack %s: launch.toml process %q: a type is letters, digits, _ and -, and a command a list of strings", ErrCompile, bp.Ref, p.Type)
		}
		var cmd strings.Builder
		if p.WorkingDir != "" {
			cmd.WriteString("cd " + shellQuote(p.WorkingDir) + " && ")
		}
		cmd.WriteString("exec")
		for _, w := range append(words, p.Args...) {
			cmd.WriteString(" " + shellQuote(w))
		}
		bp.cnb.processes[p.Type] = cmd.String()
		if p.Default {
			bp.cnb.dflt = p.Type
		}
	}
	return nil
}

// commandWords reads a launch.toml command: a list of strings, or a single
// string (before API 0.9), which is one word.
func commandWords(c any) ([]string, error) {
	switch c := c.(type) {
	case string:
		return []string{c}, nil
	case []any:
		words := make([]string, 0, len(c))
		for _, w := range c {
			s, ok := w.(string)
			if !ok {
				return nil, errors.New("not a string")
			}
			words = append(words, s)
		}
		if len(words) > 0 {
			return words, nil
		}
	}
	return nil, errors.New("no command")
}
