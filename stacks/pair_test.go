package stacks

import (
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"trixie", "my-stack", "reg.example:5000/team/stack"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "UPPER", "a b", "../x"} {
		if err := CheckName(bad); !errors.Is(err, oci.ErrInvalidName) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if got := RunImageName("trixie:v2"); got != "trixie/run" {
		t.Errorf("RunImageName = %q", got)
	}
}

// A stack stored as one image serves as its own run image; a pair gives
// its run image; removing one forgets it.
func TestResolveListRemove(t *testing.T) {
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	con := console.New(io.Discard, true)
	build := labelled(t, map[string]string{oci.LabelStackSuite: "trixie", oci.LabelStackPackages: "git,curl"})
	if _, err := h.Store().Put(ctx, oci.KindStack, "solo", build); err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(ctx, h, "solo", false, con)
	if err != nil {
		t.Fatal(err)
	}
	if s.RunName != "solo" || s.Digest != mustDigest(t, s.Run) {
		t.Errorf("single-image stack: run %s %v, want itself", s.RunName, mustDigest(t, s.Run))
	}
	run := labelled(t, nil)
	if _, err := h.Store().Put(ctx, oci.KindStack, RunImageName("solo"), run); err != nil {
		t.Fatal(err)
	}
	if s, err = Resolve(ctx, h, "solo", false, con); err != nil {
		t.Fatal(err)
	}
	if s.RunName != "solo/run" || mustDigest(t, s.Run) != mustDigest(t, run) {
		t.Errorf("pair: run %s, want solo/run", s.RunName)
	}
	list, err := List(h)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	for _, l := range list {
		if l.Name == "solo:latest" && (l.Suite != "trixie" || len(l.Packages) != 2) {
			t.Errorf("List: %+v, want its suite and packages from its labels", l)
		}
	}
	if err := Remove(h, "solo"); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(ctx, h, "solo", false, con); !errors.Is(err, ErrUnusable) {
		t.Errorf("removed stack resolved: %v", err)
	}
}

func labelled(t *testing.T, labels map[string]string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.Config.Labels = labels
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	img, err = oci.OCI(img)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
