// Package rebase moves a built image onto a newer run image of its stack
// without running any buildpack, as `pack rebase` does for CNB images: the
// run image's layers are swapped, the app's layers keep their digests.
package rebase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/stacks"
)

// ErrMismatch reports a run image that is not one the image may be moved
// onto, or an image that does not say which of its layers are its run
// image's.
var ErrMismatch = fmt.Errorf("%w: cannot rebase", stacks.ErrUnusable)

// Options say what to rebase onto what.
type Options struct {
	// Image is the image's name in the store.
	Image string
	// RunImage is a stack in the store or a transport whose run image is
	// the new base, or an image in the store, which then is; "" is the
	// image's own stack's current run image.
	RunImage string
	// Tag stores the result under another name; "" replaces Image.
	Tag     string
	Console *console.Console
}

// Report is what a rebase did.
type Report struct {
	Image        string `json:"image"`
	Digest       string `json:"digest"`
	Previous     string `json:"previous_digest"`
	RunImage     string `json:"run_image"`
	RunDigest    string `json:"run_digest"`
	PreviousRun  string `json:"previous_run_digest"`
	AppLayers    int    `json:"app_layers"`
	AlreadyThere bool   `json:"unchanged,omitempty"`
}

// Image rebases o.Image and stores the result.
func Image(ctx context.Context, h *home.Home, o Options) (*Report, error) {
	orig, name, err := h.Image(o.Image)
	if err != nil {
		return nil, err
	}
	label, err := stackLabel(orig)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrMismatch, name, err)
	}
	ref := o.RunImage
	if ref == "" {
		ref = label.Name
	}
	s, err := runImage(ctx, h, ref, o)
	if err != nil {
		return nil, err
	}
	if s.Name != label.Name {
		return nil, fmt.Errorf("%w %s: it was built on stack %s, and %s is stack %s; a run image of another stack may lack what the app's layers need: rebuild on %s instead",
			ErrMismatch, name, label.Name, ref, s.Name, s.Name)
	}
	app, err := appLayers(orig, label)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrMismatch, name, err)
	}
	if err := sameTarget(orig, s.Run); err != nil {
		return nil, fmt.Errorf("%w %s onto %s: %w", ErrMismatch, name, s.RunName, err)
	}
	img, err := onto(orig, s.Run, app, label, s.RunName)
	if err != nil {
		return nil, fmt.Errorf("%w: rebasing %s: %w", lifecycle.ErrExport, name, err)
	}
	return store(ctx, h, o, orig, img, name, label, s)
}

// runImage resolves the new base: a stack (its run image), or, named with
// --run-image, an image in the store, whose stack is its
// io.buildpacks.stack.id or io.paas.stack.name label.
func runImage(ctx context.Context, h *home.Home, ref string, o Options) (*stacks.Resolved, error) {
	s, err := stacks.Resolve(ctx, h, ref, false, o.Console)
	if err == nil || o.RunImage == "" || oci.IsTransport(ref) {
		return s, err
	}
	img, name, ierr := h.Image(ref)
	if ierr != nil {
		return nil, err // neither a stack nor an image: the stack's error says what to do
	}
	if img, ierr = oci.OCI(img); ierr != nil {
		return nil, ierr
	}
	cf, ierr := img.ConfigFile()
	if ierr != nil {
		return nil, ierr
	}
	stack := cf.Config.Labels[oci.LabelCNBStackID]
	if stack == "" {
		stack = cf.Config.Labels[oci.LabelStackName]
	}
	if stack == "" {
		return nil, fmt.Errorf("%w: image %s says no stack (no %s or %s label)", ErrMismatch, name, oci.LabelCNBStackID, oci.LabelStackName)
	}
	return &stacks.Resolved{Name: stack, Run: img, RunName: name}, nil
}

// store puts the rebased image under its tag and reports.
func store(ctx context.Context, h *home.Home, o Options, orig, img v1.Image, name string, label lifecycle.StackLabel, s *stacks.Resolved) (*Report, error) {
	tag := name
	if o.Tag != "" {
		var err error
		if tag, err = oci.NormalizeName(o.Tag); err != nil {
			return nil, fmt.Errorf("tag %q: %w", o.Tag, err)
		}
	}
	prev, err := orig.Digest()
	if err != nil {
		return nil, err
	}
	runDigest, err := s.Run.Digest()
	if err != nil {
		return nil, err
	}
	r := &Report{Image: tag, Previous: prev.String(), RunImage: s.RunName, RunDigest: runDigest.String(), PreviousRun: label.RunDigest}
	digest, err := h.Store().Put(ctx, oci.KindImage, tag, img)
	if err != nil {
		return nil, fmt.Errorf("%w: storing %s: %w", lifecycle.ErrExport, tag, err)
	}
	r.Digest = digest.String()
	r.AlreadyThere = r.RunDigest == r.PreviousRun
	if ls, err := img.Layers(); err == nil {
		base, _ := s.Run.Layers()
		r.AppLayers = len(ls) - len(base)
	}
	return r, nil
}

// stackLabel reads the stack an image was built on from its label.
func stackLabel(img v1.Image) (lifecycle.StackLabel, error) {
	var l lifecycle.StackLabel
	cf, err := img.ConfigFile()
	if err != nil {
		return l, err
	}
	raw := cf.Config.Labels[oci.LabelStack]
	if raw == "" {
		return l, errors.New("it has no " + oci.LabelStack + " label: paas did not build it")
	}
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.Name == "" {
		return l, fmt.Errorf("its %s label %q is not paas's", oci.LabelStack, raw)
	}
	return l, nil
}

// appLayers returns the layers of img above its run image: those after the
// one whose DiffID the label names as the run image's top layer.
func appLayers(img v1.Image, label lifecycle.StackLabel) ([]mutate.Addendum, error) {
	if label.RunTopLayer == "" {
		return nil, errors.New("its stack label does not name the run image's top layer (it was built by an older paas): rebuild it once")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	top := -1
	for i, id := range cf.RootFS.DiffIDs {
		if id.String() == label.RunTopLayer {
			top = i
		}
	}
	if top < 0 || len(ls) != len(cf.RootFS.DiffIDs) {
		return nil, errors.New("its layers do not include the run image's top layer its label names")
	}
	// paas writes one history entry per layer; the app's are the last.
	history := cf.History[max(len(cf.History)-(len(ls)-top-1), 0):]
	var out []mutate.Addendum
	for i, l := range ls[top+1:] {
		a := mutate.Addendum{Layer: l}
		if i < len(history) {
			a.History = history[i]
		}
		out = append(out, a)
	}
	return out, nil
}

// sameTarget refuses a run image for another OS or architecture.
func sameTarget(img, run v1.Image) error {
	a, err := img.ConfigFile()
	if err != nil {
		return err
	}
	b, err := run.ConfigFile()
	if err != nil {
		return err
	}
	if a.OS != b.OS || a.Architecture != b.Architecture || a.Variant != b.Variant {
		return fmt.Errorf("the image is for %s/%s, the run image for %s/%s", a.OS, a.Architecture, b.OS, b.Architecture)
	}
	return nil
}

// onto puts the app's layers on run with the image's own config, and says
// in its labels and annotations which run image it is on now.
func onto(orig, run v1.Image, app []mutate.Addendum, label lifecycle.StackLabel, runName string) (v1.Image, error) {
	ocf, err := orig.ConfigFile()
	if err != nil {
		return nil, err
	}
	runDigest, err := run.Digest()
	if err != nil {
		return nil, err
	}
	top, err := lifecycle.TopLayer(run)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(run, app...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = *ocf.Config.DeepCopy()
	cf.Created = ocf.Created
	label.RunImage, label.RunDigest, label.RunTopLayer = runName, runDigest.String(), top
	if err := lifecycle.SetRunImage(cf.Config.Labels, label); err != nil {
		return nil, err
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Annotations(img, map[string]string{
		oci.AnnotationBaseName:   runName,
		oci.AnnotationBaseDigest: runDigest.String(),
	}).(v1.Image), nil
}
