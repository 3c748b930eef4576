package lifecycle

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
)

// SBOMDir is where an image keeps the software bills of materials of its
// CNB launch layers, as the CNB lifecycle lays them out:
// SBOMDir/launch/ID/LAYER/sbom.EXT for a layer, SBOMDir/launch/ID/sbom.EXT
// for a buildpack's launch.sbom.EXT.
const SBOMDir = LayersDir + "/sbom"

// sbomFormats are the SBOM file extensions the CNB Buildpack API names:
// CycloneDX, SPDX and Syft JSON.
var sbomFormats = []string{"cdx.json", "spdx.json", "syft.json"}

// maxSBOM bounds one SBOM file and maxSBOMTotal all of a build's: paas
// holds them in memory to write them.
const (
	maxSBOM      = 16 << 20
	maxSBOMTotal = 64 << 20
)

// SBOMFile is an SBOM a CNB buildpack wrote, for the image.
type SBOMFile struct {
	Path string // in the image
	Body []byte
}

// takeSBOMs reads bp's launch.sbom.EXT and, for each launch layer named in
// layers, LAYER.sbom.EXT, from its layers directory id inside root.
func (b *build) takeSBOMs(root *os.Root, bp *prepared, id string, layers []string) {
	warn := func(msg string) { b.con.Warn("buildpack %s: %s", bp.Ref, msg) }
	read := func(file, at string) {
		fi, err := root.Lstat(path.Join(id, file))
		if err != nil || !fi.Mode().IsRegular() {
			return
		}
		if fi.Size() > min(maxSBOM, b.cnb.sbomLeft) {
			warn(fmt.Sprintf("%s is larger than %d MiB, or the build's SBOMs than %d MiB; left out of the image", file, maxSBOM>>20, maxSBOMTotal>>20))
			return
		}
		body, err := fsutil.ReadRegular(root, path.Join(id, file), min(maxSBOM, b.cnb.sbomLeft))
		if err != nil {
			warn(fmt.Sprintf("reading %s: %v", file, err))
			return
		}
		b.cnb.sbomLeft -= int64(len(body))
		b.cnb.sboms = append(b.cnb.sboms, SBOMFile{Path: at, Body: body})
	}
	base := path.Join(SBOMDir, "launch", id)
	for _, ext := range sbomFormats {
		read("launch.sbom."+ext, path.Join(base, "sbom."+ext))
		for _, layer := range layers {
			read(layer+".sbom."+ext, path.Join(base, layer, "sbom."+ext))
		}
	}
}

// sbomLayer makes one layer of the SBOM files, with their directories.
func sbomLayer(files []SBOMFile, opts []layers.Option) (v1.Layer, error) {
	dirs := map[string]bool{}
	var out []layers.File
	for _, f := range files {
		rel := strings.TrimPrefix(f.Path, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			out = append(out, layers.File{Path: d, Mode: fs.ModeDir | 0o755})
		}
		out = append(out, layers.File{Path: rel, Mode: 0o644, Body: f.Body})
	}
	return layers.FromFiles(out, opts...)
}
