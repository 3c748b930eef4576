package buildpack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
)

// A buildpack may be an OCI image, as `pack` packages them (a
// "buildpackage"): its layers hold cnb/buildpacks/ID/VERSION/ trees, one
// per buildpack, a meta-buildpack with its members or a single one. It is
// named by a transport (oci:DIR[:NAME], oci-archive:FILE[:NAME],
// docker-archive:FILE[:NAME]) or docker://REF in a registry. Fetching
// unpacks every layer, each checked against its DiffID, with the hardened
// extractor archives get.

// RegistryPrefix names a buildpack image in a registry.
const RegistryPrefix = "docker://"

// buildpacksDir is where an image keeps its buildpacks.
const buildpacksDir = "cnb/buildpacks"

// imageFetcher unpacks a buildpack image.
type imageFetcher struct {
	ref  string
	load func(ctx context.Context) (v1.Image, error)
}

// loaderFor returns how loc's image is read.
func loaderFor(loc location) func(ctx context.Context) (v1.Image, error) {
	if loc.kind == kindRegistry {
		return func(ctx context.Context) (v1.Image, error) { return oci.Pull(ctx, loc.src) }
	}
	return func(context.Context) (v1.Image, error) { return oci.Load(loc.src) }
}

func (f imageFetcher) fetch(ctx context.Context, dir string) (string, error) {
	img, err := f.load(ctx)
	if err != nil {
		return "", fetchf(f.ref, "%w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fetchf(f.ref, "%w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return "", fetchf(f.ref, "%w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	for _, l := range ls {
		if err := unpackLayer(ctx, l, dir); err != nil {
			return "", invalidf(f.ref, "unpacking the image: %w", err)
		}
	}
	if err := linksInside(dir); err != nil {
		return "", invalidf(f.ref, "%w", err)
	}
	if _, err := topBuildpack(dir); err != nil {
		return "", invalidf(f.ref, "%w", err)
	}
	return digest.String(), nil
}

// unpackLayer unpacks one layer of a buildpack image into dir.
func unpackLayer(ctx context.Context, l v1.Layer, dir string) error {
	diffID, err := l.DiffID()
	if err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return layers.Unpack(rc, dir, layers.WithContext(ctx), layers.WithMaxSize(maxBuildpackSize), layers.WithDiffID(diffID))
}

// imageDigest returns the digest a local buildpack image has now, to tell
// whether its cache entry is still it.
func imageDigest(loc location) (string, error) {
	img, err := oci.Load(loc.src)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	return d.String(), err
}

// topBuildpack returns the directory of an unpacked image's buildpack: the
// one no other buildpack's [[order]] names, which must be the only one.
func topBuildpack(root string) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(root, buildpacksDir, "*", "*", DescriptorFile))
	if err != nil || len(dirs) == 0 {
		return "", fmt.Errorf("the image holds no %s/ID/VERSION/%s: it is not a buildpack image", buildpacksDir, DescriptorFile)
	}
	named := map[string]bool{}
	all := map[string]string{}
	for _, p := range dirs {
		d, err := readDescriptor(filepath.Dir(p))
		if err != nil || d == nil {
			return "", fmt.Errorf("%s: %w", strings.TrimPrefix(p, root+"/"), err)
		}
		all[d.Buildpack.ID+"@"+d.Buildpack.Version] = filepath.Dir(p)
		for _, o := range d.Order {
			for _, m := range o.Group {
				named[m.ID] = true
			}
		}
	}
	var tops []string
	for key, dir := range all {
		if id, _, _ := strings.Cut(key, "@"); !named[id] {
			tops = append(tops, dir)
		}
	}
	if len(tops) != 1 {
		return "", fmt.Errorf("the image holds %d buildpacks that no meta-buildpack in it names; want one", len(tops))
	}
	return tops[0], nil
}

// Component returns the directory of the buildpack id at version (any
// version when it is "" and there is one) that the meta-buildpack b's
// [[order]] names: beside b, in the cnb/buildpacks/ID/VERSION layout of
// buildpack images and builders.
func (b *Buildpack) Component(id, version string) (string, error) {
	base := filepath.Dir(filepath.Dir(b.Dir))
	if filepath.Base(filepath.Dir(b.Dir)) != EscapeID(b.CNB.Buildpack.ID) {
		return "", fmt.Errorf("meta-buildpack %s is not in a cnb/buildpacks/ID/VERSION layout, where its buildpacks would be beside it: give it as an image (oci:, docker://)", b.CNB.Buildpack.ID)
	}
	dir := filepath.Join(base, EscapeID(id))
	if version != "" {
		dir = filepath.Join(dir, version)
	} else if versions, _ := os.ReadDir(dir); len(versions) == 1 {
		dir = filepath.Join(dir, versions[0].Name())
	}
	if rel, err := filepath.Rel(base, dir); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("meta-buildpack %s names %s %s, which would be outside its layout", b.CNB.Buildpack.ID, id, version)
	}
	if _, err := os.Lstat(filepath.Join(dir, DescriptorFile)); err != nil {
		return "", fmt.Errorf("meta-buildpack %s names %s %s, which is not beside it", b.CNB.Buildpack.ID, id, version)
	}
	return dir, nil
}

// EscapeID makes a buildpack id a directory name, as CNB tools do (in
// cnb/buildpacks/ID/VERSION and /layers/ID).
func EscapeID(id string) string { return strings.ReplaceAll(id, "/", "_") }
