package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/sandbox"
)

// Resolved is the stack a build runs on: buildpacks run on the build
// image, and the app is placed on the run image (the build image itself
// when the stack has no separate run image).
type Resolved struct {
	Name    string
	Image   v1.Image // the build image, with OCI media types
	Digest  v1.Hash  // of Image
	Run     v1.Image // with OCI media types
	RunName string
	// Rootfs is the build image unpacked, when asked for.
	Rootfs string
	// Env is the build image's environment.
	Env []string
}

// Resolve finds the stack ref names: a stack in the store or a transport
// (oci:DIR, oci-archive:FILE, docker-archive:FILE); "" means $PAAS_STACK,
// else Default, which is created the first time it is needed so a build
// works on a fresh machine with no set-up. With rootfs, the build image is
// unpacked for the sandbox.
func Resolve(ctx context.Context, h *home.Home, ref string, rootfs bool, con *console.Console) (*Resolved, error) {
	if ref == "" {
		ref = os.Getenv("PAAS_STACK")
	}
	if ref == "" {
		ref = Default
		if err := ensureDefault(ctx, h, con); err != nil {
			return nil, err
		}
	}
	img, name, err := loadStack(h, ref)
	if err != nil {
		return nil, err
	}
	s := &Resolved{Name: name}
	if s.Image, err = oci.OCI(img); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %w", ErrUnusable, ref, err)
	}
	if s.Digest, err = s.Image.Digest(); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %w", ErrUnusable, ref, err)
	}
	if s.Run, s.RunName, err = runImage(h, ref, name, s.Image); err != nil {
		return nil, err
	}
	if s.Env, err = Env(img); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %w", ErrUnusable, ref, err)
	}
	if rootfs {
		if s.Rootfs, err = unpack(ctx, h, img); err != nil {
			if errors.Is(err, sandbox.ErrUnavailable) {
				// Not the stack's fault: the host lacks user namespaces,
				// which its own exit code and advice say.
				return nil, err
			}
			return nil, fmt.Errorf("%w: unpacking stack %s: %w", ErrUnusable, ref, err)
		}
	}
	return s, nil
}

// runImage returns the stack's run image, stored as NAME/run, or the
// build image when there is none (and for stacks given as paths).
func runImage(h *home.Home, ref, name string, build v1.Image) (v1.Image, string, error) {
	if oci.IsTransport(ref) {
		return build, name, nil
	}
	run, _, err := h.Store().Image(oci.KindStack, RunImageName(ref))
	if errors.Is(err, oci.ErrNotFound) {
		return build, name, nil
	}
	if err != nil {
		return nil, "", err
	}
	img, err := oci.OCI(run)
	if err != nil {
		return nil, "", fmt.Errorf("%w: run image of %s: %w", ErrUnusable, ref, err)
	}
	return img, RunImageName(name), nil
}

// ensureDefault creates the default stack when the store lacks it.
func ensureDefault(ctx context.Context, h *home.Home, con *console.Console) error {
	if _, _, err := h.Store().Image(oci.KindStack, Default); !errors.Is(err, oci.ErrNotFound) {
		return err
	}
	con.Step("The default stack %s is not in the store yet: creating it once (later builds reuse it)", Default)
	return CreatePair(ctx, h, PairSpec{
		Name: Default, Suite: DefaultSuite, Build: DefaultBuildPackages, Run: DefaultRunPackages,
	}, con)
}

func loadStack(h *home.Home, ref string) (v1.Image, string, error) {
	if oci.IsTransport(ref) {
		img, err := oci.Load(ref)
		if err != nil {
			return nil, "", fmt.Errorf("%w: loading stack %s: %w", ErrUnusable, ref, err)
		}
		return img, nameOf(img, ref), nil
	}
	img, _, err := h.Store().Image(oci.KindStack, ref)
	if err != nil {
		return nil, "", fmt.Errorf("%w: stack %q is not in the store (%s); create it with `paas stack create %s` or import one with `paas stack import %s SOURCE`",
			ErrUnusable, ref, h.Dir(), ref, ref)
	}
	return img, ref, nil
}

// nameOf names a stack given as a path: its name label, else the file or
// directory name.
func nameOf(img v1.Image, ref string) string {
	if cf, err := img.ConfigFile(); err == nil {
		if n := cf.Config.Labels[oci.LabelStackName]; n != "" {
			return n
		}
	}
	_, path, _ := strings.Cut(ref, ":")
	base := filepath.Base(strings.TrimSuffix(path, "/"))
	return strings.TrimSuffix(strings.TrimSuffix(base, ".tar"), ".tar.gz")
}

// unpack returns the directory of img's root filesystem in the home's
// rootfs cache.
func unpack(ctx context.Context, h *home.Home, img v1.Image) (string, error) {
	c, err := h.Rootfs()
	if err != nil {
		return "", err
	}
	return c.Get(ctx, img)
}
