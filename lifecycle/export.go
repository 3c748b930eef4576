package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// The run user: Heroku runs apps unprivileged, and so do paas images. A
// numeric id needs no /etc/passwd entry in the stack.
const (
	RunUID  = 1000
	RunGID  = 1000
	RunUser = "1000:1000"
)

// ExportOptions say how the image is assembled.
type ExportOptions struct {
	// Base is the stack's run image (its build image when the stack has
	// no separate run image); its layers are reused exactly as they are.
	Base v1.Image
	// Stack names the stack and its build image; RunName names Base.
	Stack       StackLabel
	RunName     string
	Epoch       time.Time
	Compression layers.Compression
	TempDir     string
	// Warn gets a message for each file of the app that no layer can hold
	// (sockets, devices, fifos) and is left out; nil drops them.
	Warn func(string)
	// Reuse remembers the layers of earlier exports: a layer whose tar
	// stream is one of theirs is taken from it instead of compressed again
	// (layers.WithReuse). Nil compresses every layer.
	Reuse layers.Reuse
	// Previous is the image the last build of this name made, if any: a
	// CNB launch layer a buildpack kept without rebuilding it (its
	// LAYER.toml declared, its directory absent) is taken from it.
	Previous v1.Image
}

// LayerInfo describes one layer of the exported image. Reused marks a layer
// of paas's that an earlier export made, taken as it was: this export did
// not compress it.
type LayerInfo struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Holds  string `json:"holds"`
	Reused bool   `json:"reused,omitempty"`
}

// StackLabel is the io.paas.stack label's value: the stack, its build
// image's digest, and the run image the app was placed on, so images built
// on an older run image can be found.
type StackLabel struct {
	Name      string `json:"name"`
	Digest    string `json:"digest"`
	RunImage  string `json:"run_image,omitempty"`
	RunDigest string `json:"run_digest,omitempty"`
	// RunTopLayer is the DiffID of the run image's top layer: the image's
	// layers up to it are the run image's (paas rebase).
	RunTopLayer string `json:"run_top_layer,omitempty"`
}

// Export assembles the image: the stack's layers unchanged, then the
// launcher layer (the same in every image), the process table, one layer per
// dependency directory, and the app's own code. Layers are ordered from
// least to most often changing so a rebuild of changed code reuses
// everything before the app layer.
func Export(res *Result, o ExportOptions) (v1.Image, []LayerInfo, error) {
	img, infos, err := export(res, o)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrExport, err)
	}
	return img, infos, nil
}

// added is a layer paas made, and what it holds.
type added struct {
	layer v1.Layer
	holds string
}

func export(res *Result, o ExportOptions) (v1.Image, []LayerInfo, error) {
	lopts := []layers.Option{layers.WithEpoch(o.Epoch), layers.WithTempDir(o.TempDir)}
	if o.Compression != "" {
		lopts = append(lopts, layers.WithCompression(o.Compression))
	}
	if o.Reuse != nil {
		lopts = append(lopts, layers.WithReuse(o.Reuse))
	}
	launcher, err := launch.Layer(lopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("launcher layer: %w", err)
	}
	procs, err := launch.ProcessLayer(res.Processes, lopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("process layer: %w", err)
	}
	cnb, err := cnbLayers(res, o.Previous, lopts)
	if err != nil {
		return nil, nil, err
	}
	// The CNB lifecycle label names each launch layer's digest.
	withDigests := *res
	withDigests.CNBLayers = slices.Clone(res.CNBLayers)
	for i := range withDigests.CNBLayers {
		if d, err := cnb[i].layer.Digest(); err == nil {
			withDigests.CNBLayers[i].Digest = d.String()
		}
	}
	res = &withDigests
	app, err := appLayers(res, o, lopts)
	if err != nil {
		return nil, nil, err
	}
	img := o.Base
	var infos []LayerInfo
	baseLayers, err := o.Base.Layers()
	if err != nil {
		return nil, nil, err
	}
	for _, l := range baseLayers {
		info, err := layerInfo(l, "stack "+o.Stack.Name)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	for _, a := range append([]added{
		{launcher, "launcher (" + launch.Launcher + ")"},
		{procs, "process types (" + launch.ProcessesDir + ")"},
	}, append(cnb, app...)...) {
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   a.layer,
			History: v1.History{Created: v1.Time{Time: o.Epoch}, CreatedBy: "paas build: " + a.holds},
		})
		if err != nil {
			return nil, nil, err
		}
		info, err := layerInfo(a.layer, a.holds)
		if err != nil {
			return nil, nil, err
		}
		info.Reused = layers.Reused(a.layer)
		infos = append(infos, info)
	}
	img, err = configure(img, res, o)
	return img, infos, err
}

// cnbLayers makes an image layer of each CNB launch layer, at its path
// under /layers, owned by the app's user, and one of the environment they
// set at launch, owned by root like the rest of /paas.
func cnbLayers(res *Result, previous v1.Image, lopts []layers.Option) ([]added, error) {
	owned := slices.Clip(append(slices.Clip(lopts), layers.WithOwner(RunUID, RunGID)))
	var out []added
	for _, l := range res.CNBLayers {
		if l.Kept {
			layer, err := keptLayer(previous, l)
			if err != nil {
				return nil, fmt.Errorf("%w: CNB layer %s: %w", ErrExport, l.Holds, err)
			}
			out = append(out, added{layer, l.Holds + " (" + l.Path + ", kept from the last image)"})
			continue
		}
		if err := realDir(l.HostDir, 2); err != nil {
			return nil, fmt.Errorf("%w: CNB layer %s: %w", ErrExport, l.Holds, err)
		}
		layer, err := layers.FromDir(l.HostDir, append(owned, layers.WithPrefix(strings.TrimPrefix(l.Path, "/")))...)
		if err != nil {
			return nil, fmt.Errorf("CNB layer %s: %w", l.Holds, err)
		}
		out = append(out, added{layer, l.Holds + " (" + l.Path + ")"})
	}
	if len(res.SBOM) > 0 {
		sbom, err := sbomLayer(res.SBOM, owned)
		if err != nil {
			return nil, fmt.Errorf("SBOM layer: %w", err)
		}
		out = append(out, added{sbom, "bills of materials (" + SBOMDir + ")"})
	}
	if res.LaunchEnv == "" {
		return out, nil
	}
	profile, err := launch.ProfileLayer(res.LaunchEnv, lopts...)
	if err != nil {
		return nil, fmt.Errorf("launch environment layer: %w", err)
	}
	return append(out, added{profile, "launch environment (" + launch.ProfileDir + ")"}), nil
}

// appLayers splits /app: one layer per dependency directory (see
// dependencyDirs), then the rest, the app's own code, which changes most.
func appLayers(res *Result, o ExportOptions, lopts []layers.Option) ([]added, error) {
	warn := o.Warn
	if warn == nil {
		warn = func(string) {}
	}
	// Clipped: each layer below appends its own prefix to a copy.
	lopts = slices.Clip(append(lopts, layers.WithOwner(RunUID, RunGID), layers.WithWarn(warn)))
	deps := dependencyDirs(res.AppDir, res.DependencyDirs, warn)
	var out []added
	for _, rel := range deps {
		l, err := layers.FromDir(filepath.Join(res.AppDir, filepath.FromSlash(rel)),
			append(lopts, layers.WithPrefix(path.Join(path.Base(launch.AppDir), rel)))...)
		if err != nil {
			return nil, fmt.Errorf("dependency layer %s: %w", rel, err)
		}
		out = append(out, added{l, "dependencies (" + path.Join(launch.AppDir, rel) + ")"})
	}
	code, err := layers.FromDir(res.AppDir, append(lopts,
		layers.WithPrefix(path.Base(launch.AppDir)),
		layers.WithExclude(func(rel string, isDir bool) bool { return isDir && slices.Contains(deps, rel) }))...)
	if err != nil {
		return nil, fmt.Errorf("app layer: %w", err)
	}
	return append(out, added{code, "app (" + launch.AppDir + ")"}), nil
}

func layerInfo(l v1.Layer, holds string) (LayerInfo, error) {
	d, err := l.Digest()
	if err != nil {
		return LayerInfo{}, err
	}
	size, err := l.Size()
	if err != nil {
		return LayerInfo{}, err
	}
	return LayerInfo{Digest: d.String(), Size: size, Holds: holds}, nil
}

// configure sets the image config: launcher entrypoint, default process,
// run user, config vars as default environment, and the paas labels.
func configure(img v1.Image, res *Result, o ExportOptions) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	baseDigest, err := o.Base.Digest()
	if err != nil {
		return nil, err
	}
	stack := o.Stack
	stack.RunImage, stack.RunDigest = o.RunName, baseDigest.String()
	if top, err := TopLayer(o.Base); err == nil {
		stack.RunTopLayer = top
	}
	labels, err := imageLabels(res, stack)
	if err != nil {
		return nil, err
	}
	c := &cf.Config
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	merge(c.Labels, labels)
	env := parseEnviron(c.Env).with(res.ConfigVars)
	c.Env = env.list()
	c.Entrypoint = []string{launch.Launcher}
	c.Cmd = nil
	t := launch.DefaultType(res.Processes)
	if _, ok := res.Processes[res.DefaultProcess]; t == "" && ok {
		t = res.DefaultProcess
	}
	if t != "" {
		c.Cmd = []string{t}
	}
	c.WorkingDir = launch.AppDir
	c.User = RunUser
	c.ExposedPorts = map[string]struct{}{launch.DefaultPort + "/tcp": {}}
	cf.Created = v1.Time{Time: o.Epoch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	annotated := mutate.Annotations(img, map[string]string{
		oci.AnnotationBaseName:   o.RunName,
		oci.AnnotationBaseDigest: baseDigest.String(),
	})
	return annotated.(v1.Image), nil
}

func imageLabels(res *Result, stack StackLabel) (map[string]string, error) {
	procs, err := json.Marshal(res.Processes)
	if err != nil {
		return nil, err
	}
	bps := res.Buildpacks
	if bps == nil {
		bps = []UsedBuildpack{}
	}
	used, err := json.Marshal(bps)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		oci.LabelProcesses:  string(procs),
		oci.LabelBuildpacks: string(used),
	}
	if err := cnbLabels(labels, res, stack); err != nil {
		return nil, err
	}
	if err := SetRunImage(labels, stack); err != nil {
		return nil, err
	}
	if res.SourceVersion != "" {
		labels[oci.LabelRevision] = res.SourceVersion
	}
	if res.SourceURL != "" {
		labels[oci.LabelSource] = res.SourceURL
	}
	return labels, nil
}

// TopLayer returns the DiffID of img's top layer, from its config.
func TopLayer(img v1.Image) (string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	ids := cf.RootFS.DiffIDs
	if len(ids) == 0 {
		return "", errors.New("the image has no layers")
	}
	return ids[len(ids)-1].String(), nil
}

// realDir fails unless dir and its parents up to levels above are
// directories, not symlinks. A later buildpack may have swapped a launch
// layer, or its buildpack's directory, for a link to a host directory
// since the layer was taken; no buildpack runs while this is checked, and
// FromDir does not follow links under dir.
func realDir(dir string, levels int) error {
	for p := dir; levels > 0; p, levels = filepath.Dir(p), levels-1 {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is no longer a directory (%s): a buildpack replaced it", p, fi.Mode().Type())
		}
	}
	return nil
}
