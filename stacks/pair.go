package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

// A stack in the store is a pair of images: the build image NAME, which
// buildpacks run on, and the run image NAME/run, which the app is placed
// on. A stack stored as one image serves as both.

// Default is the stack builds use when none is named.
const Default = "trixie"

// Default package lists of CreatePair: the build image has the toolchains
// the builtin buildpacks use; the run image only runtimes.
var (
	DefaultBuildPackages = []string{"ca-certificates", "curl", "git", "golang-go", "nodejs", "npm", "python3", "python3-venv", "python3-pip"}
	DefaultRunPackages   = []string{"ca-certificates", "nodejs", "python3"}
)

// ErrUnusable reports a stack that is missing, malformed or cannot be made.
var ErrUnusable = fault.New(fault.Stack, "stack problem")

// ErrStore reports a stack that could not be stored: classed like an app
// image that could not be, since what failed is the store.
var ErrStore = fault.New(fault.Export, "export failed")

// RunImageName is where a stack's run image is stored, beside its build
// image NAME.
func RunImageName(stack string) string { return oci.Repository(stack) + "/run" }

// CheckName refuses a stack name the store cannot hold before any work is
// done (creating a stack takes minutes).
func CheckName(name string) error {
	for _, n := range []string{name, RunImageName(name)} {
		if _, err := oci.NormalizeName(n); err != nil {
			return fmt.Errorf("stack name %q: %w", name, err)
		}
	}
	return nil
}

// PairSpec describes a stack for CreatePair. Build and Run are the whole
// package lists of each image.
type PairSpec struct {
	Name, Suite, Mirror string
	Build, Run          []string
}

// CreatePair makes a build and a run image with mmdebstrap and stores them
// as NAME and NAME/run.
func CreatePair(ctx context.Context, h *home.Home, s PairSpec, con *console.Console) error {
	start := time.Now()
	work, err := h.Scratch("stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	images := []struct {
		what, name string
		packages   []string
	}{
		{"build", s.Name, s.Build},
		{"run", RunImageName(s.Name), s.Run},
	}
	for _, i := range images {
		con.Step("Creating the %s image of stack %s from Debian %s", i.what, s.Name, s.Suite)
		con.Info("Packages: %s", strings.Join(i.packages, " "))
		img, err := Create(ctx, CreateOptions{
			Name: s.Name, Suite: s.Suite, Packages: i.packages, Mirror: s.Mirror,
			Progress: con.Writer(), TempDir: work,
		})
		if err != nil {
			return fmt.Errorf("%w: creating stack %s: %w", ErrUnusable, s.Name, err)
		}
		if err := put(ctx, h, con, i.name, img, start); err != nil {
			return err
		}
	}
	return nil
}

// ImportInto stores the stack at source (see Import) as name, which then
// serves as its own run image.
func ImportInto(ctx context.Context, h *home.Home, name, source string, con *console.Console) error {
	start := time.Now()
	con.Step("Importing stack %s from %s", name, source)
	work, err := h.Scratch("stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	img, err := Import(ctx, source, work)
	if err != nil {
		return fmt.Errorf("%w: importing %s: %w", ErrUnusable, source, err)
	}
	return put(ctx, h, con, name, img, start)
}

// PullPair takes a stack's build image, and its run image when runRef is
// not empty, from a registry.
func PullPair(ctx context.Context, h *home.Home, name, buildRef, runRef string, con *console.Console) error {
	start := time.Now()
	refs := []struct{ target, ref string }{{name, buildRef}, {RunImageName(name), runRef}}
	for _, r := range refs {
		if r.ref == "" {
			continue
		}
		con.Step("Pulling %s", r.ref)
		img, err := oci.Pull(ctx, r.ref)
		if err != nil {
			return fmt.Errorf("%w: pulling %s: %w", ErrUnusable, r.ref, err)
		}
		if err := put(ctx, h, con, r.target, img, start); err != nil {
			return err
		}
	}
	if runRef == "" {
		// A stack given as a single image serves as both: an older run
		// image of the same name must not linger.
		err := h.Store().Remove(oci.KindStack, RunImageName(name))
		if err != nil && !errors.Is(err, oci.ErrNotFound) {
			return err
		}
	}
	return nil
}

func put(ctx context.Context, h *home.Home, con *console.Console, name string, img v1.Image, start time.Time) error {
	img, err := oci.OCI(img)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	digest, err := h.Store().Put(ctx, oci.KindStack, name, img)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	con.Step("Stack %s (%s) ready in %s", name, digest, console.Duration(time.Since(start)))
	return nil
}

// Listing is one stored stack image.
type Listing struct {
	oci.Entry
	Suite    string
	Packages []string
}

// List returns the stored stack images, build and run.
func List(h *home.Home) ([]Listing, error) {
	entries, err := h.Store().List(oci.KindStack)
	if err != nil {
		return nil, err
	}
	out := make([]Listing, 0, len(entries))
	for _, e := range entries {
		l := Listing{Entry: e}
		if img, _, err := h.Store().Image(oci.KindStack, e.Name); err == nil {
			if cf, err := img.ConfigFile(); err == nil {
				l.Suite = cf.Config.Labels[oci.LabelStackSuite]
				l.Packages = strings.FieldsFunc(cf.Config.Labels[oci.LabelStackPackages], func(r rune) bool { return r == ',' })
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// Remove removes a stored stack image and its unpacked root filesystem.
func Remove(h *home.Home, name string) error {
	img, _, err := h.Store().Image(oci.KindStack, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	// The tree first: finding it needs the image's config, which removing
	// the tag may collect.
	c, err := h.Rootfs()
	if err != nil {
		return err
	}
	if err := c.Remove(img); err != nil {
		return err
	}
	return h.Store().Remove(oci.KindStack, name)
}
