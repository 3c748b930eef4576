package rebase_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/rebase"
	"github.com/paas-dev/paas/stacks"
)

// putStack stores a stack of random layers under name, for arch.
func putStack(t *testing.T, h *home.Home, name, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = []string{"PATH=/usr/bin:/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store().Put(context.Background(), oci.KindStack, name, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// A rebase puts the app's layers, unchanged, on the stack's newer run
// image, keeps the image's config, and says which run image it is on; it
// refuses a run image of another stack or architecture, and an image
// whose labels do not say which layers are its run image's.
func TestRebase(t *testing.T) {
	ctx := context.Background()
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putStack(t, h, "test", "amd64")
	r, err := builder.Build(ctx, h, builder.Options{
		AppDir: testenv.Fixture("apps", "hello"), Tag: "hello", Stack: "test", NoSandbox: true,
		Buildpacks: []string{testenv.Fixture("buildpacks", "hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	built, _, err := h.Store().Image(oci.KindImage, "hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	before := layerDigests(t, built)
	newer := putStack(t, h, "test", "amd64")

	con := console.New(&strings.Builder{}, false)
	rep, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", Console: con})
	if err != nil {
		t.Fatalf("Image() = %v", err)
	}
	if rep.Previous != r.Digest || rep.Digest == r.Digest || rep.AppLayers != len(before)-2 {
		t.Errorf("report %+v, want a new digest after %s and %d app layers", rep, r.Digest, len(before)-2)
	}
	rebased, _, err := h.Store().Image(oci.KindImage, "hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	after := layerDigests(t, rebased)
	if want := append(layerDigests(t, newer), before[2:]...); strings.Join(after, " ") != strings.Join(want, " ") {
		t.Errorf("rebased layers %v, want the new run image's then the app's %v", after, want)
	}
	ocf, _ := built.ConfigFile()
	rcf, _ := rebased.ConfigFile()
	if strings.Join(ocf.Config.Cmd, " ") != strings.Join(rcf.Config.Cmd, " ") || ocf.Config.User != rcf.Config.User ||
		strings.Join(ocf.Config.Env, " ") != strings.Join(rcf.Config.Env, " ") {
		t.Errorf("the rebased config %+v differs from the image's %+v", rcf.Config, ocf.Config)
	}
	if label := rcf.Config.Labels[oci.LabelStack]; rep.RunDigest == rep.PreviousRun || !strings.Contains(label, rep.RunDigest) {
		t.Errorf("stack label %s does not name the new run image %s (was %s)", label, rep.RunDigest, rep.PreviousRun)
	}

	// Rebasing again onto the same run image changes nothing.
	again, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", Console: con})
	if err != nil || again.Digest != rep.Digest || !again.AlreadyThere {
		t.Errorf("second rebase = %+v, %v; want the same digest, unchanged", again, err)
	}

	putStack(t, h, "other", "amd64")
	putStack(t, h, "arm", "arm64")
	if _, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", RunImage: "other", Console: con}); !errors.Is(err, rebase.ErrMismatch) || !strings.Contains(err.Error(), "built on stack test") {
		t.Errorf("rebase onto another stack = %v, want %v naming the stacks", err, rebase.ErrMismatch)
	}
	putStack(t, h, "test", "arm64")
	if _, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", Console: con}); !errors.Is(err, stacks.ErrUnusable) || !strings.Contains(err.Error(), "amd64") {
		t.Errorf("rebase onto another architecture = %v, want %v naming it", err, stacks.ErrUnusable)
	}
}

// --run-image may name an image in the store that says which stack it is.
func TestRebaseOntoStoredImage(t *testing.T) {
	ctx := context.Background()
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putStack(t, h, "test", "amd64")
	if _, err := builder.Build(ctx, h, builder.Options{
		AppDir: testenv.Fixture("apps", "hello"), Tag: "hello", Stack: "test", NoSandbox: true,
		Buildpacks: []string{testenv.Fixture("buildpacks", "hello")},
	}); err != nil {
		t.Fatal(err)
	}
	base := putStack(t, h, "unused", "amd64")
	put := func(name string, labels map[string]string) {
		t.Helper()
		img, err := mutate.Config(base, v1.Config{Env: []string{"PATH=/bin"}, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Store().Put(ctx, oci.KindImage, name, img); err != nil {
			t.Fatal(err)
		}
	}
	put("runimage:labelled", map[string]string{oci.LabelCNBStackID: "test"})
	put("runimage:bare", nil)
	con := console.New(&strings.Builder{}, false)
	if _, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", RunImage: "runimage:bare", Console: con}); !errors.Is(err, rebase.ErrMismatch) {
		t.Errorf("onto an image that says no stack: %v, want %v", err, rebase.ErrMismatch)
	}
	r, err := rebase.Image(ctx, h, rebase.Options{Image: "hello", RunImage: "runimage:labelled", Tag: "hello:rebased", Console: con})
	if err != nil || r.RunImage != "runimage:labelled" || r.Image != "hello:rebased" {
		t.Errorf("onto a labelled image: %+v, %v", r, err)
	}
}
