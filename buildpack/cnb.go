package buildpack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paas-dev/paas/internal/safetoml"
)

// Descriptor is a Cloud Native Buildpack's buildpack.toml, the parts paas
// reads. A buildpack with one is a CNB buildpack, run by the CNB Buildpack
// API (bin/detect and bin/build); one without is a classic buildpack.
type Descriptor struct {
	API       string `toml:"api"`
	Buildpack struct {
		ID      string `toml:"id"`
		Version string `toml:"version"`
		Name    string `toml:"name"`
	} `toml:"buildpack"`
	// Order makes a meta-buildpack: groups of buildpacks, the first whose
	// members detect the app builds it.
	Order []Group `toml:"order"`
}

// Group is one [[order]] entry of a meta-buildpack.
type Group struct {
	Group []Member `toml:"group"`
}

// Member is a buildpack of a Group, by id and version; an optional one
// may fail detection without failing the group.
type Member struct {
	ID       string `toml:"id"`
	Version  string `toml:"version"`
	Optional bool   `toml:"optional"`
}

// Meta reports whether the buildpack is a meta-buildpack.
func (d *Descriptor) Meta() bool { return len(d.Order) > 0 }

// DescriptorFile is where a CNB buildpack describes itself.
const DescriptorFile = "buildpack.toml"

// APIs are the CNB Buildpack API versions paas runs.
var APIs = []string{"0.9", "0.10", "0.11"}

// maxDescriptor bounds a buildpack.toml, which paas reads whole.
const maxDescriptor = 1 << 20

// cnbScripts are a CNB buildpack's entry points.
var cnbScripts = []script{{"bin/detect", true}, {"bin/build", true}}

// readDescriptor reads root's buildpack.toml; nil when there is none.
func readDescriptor(root string) (*Descriptor, error) {
	f, err := os.Open(filepath.Join(root, DescriptorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDescriptor+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDescriptor {
		return nil, fmt.Errorf("%s is larger than %d bytes", DescriptorFile, maxDescriptor)
	}
	var d Descriptor
	if err := safetoml.Decode(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", DescriptorFile, err)
	}
	switch {
	case d.Buildpack.ID == "":
		return nil, fmt.Errorf("%s names no [buildpack] id", DescriptorFile)
	case !pathPart(EscapeID(d.Buildpack.ID)):
		return nil, fmt.Errorf("%s: buildpack id %q is not a valid id", DescriptorFile, d.Buildpack.ID)
	case d.Buildpack.Version != "" && !pathPart(d.Buildpack.Version):
		return nil, fmt.Errorf("%s: buildpack version %q is not a valid version", DescriptorFile, d.Buildpack.Version)
	case !slices.Contains(APIs, d.API):
		return nil, fmt.Errorf("%s: Buildpack API %q is not one paas runs (%s)", DescriptorFile, d.API, strings.Join(APIs, ", "))
	}
	for _, g := range d.Order {
		if len(g.Group) == 0 {
			return nil, fmt.Errorf("%s: %s has an [[order]] entry with no group", DescriptorFile, d.Buildpack.ID)
		}
		for _, m := range g.Group {
			if m.ID == "" || m.ID == d.Buildpack.ID || !pathPart(EscapeID(m.ID)) || m.Version != "" && !pathPart(m.Version) {
				return nil, fmt.Errorf("%s: %s's [[order.group]] names %q %q", DescriptorFile, d.Buildpack.ID, m.ID, m.Version)
			}
		}
	}
	return &d, nil
}

// pathPart reports whether s can be one component of a path, as ids
// (with / made _) and versions are in the cnb/buildpacks/ID/VERSION
// layout: not empty, "." or "..", no separator, no control character.
func pathPart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == '\\' || r < ' ' || r == 0x7f
	})
}

// DisplayName is the buildpack's name, else its id.
func (d *Descriptor) DisplayName() string {
	if d.Buildpack.Name != "" {
		return d.Buildpack.Name
	}
	return d.Buildpack.ID
}
