package deploy

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/appjson"
)

// manifest is an image's /app/app.json, read once (reading it decompresses
// the app's layers): its bytes, for health.ParseAppJSON, and its keys. An
// image without one has an empty manifest.
type manifest struct {
	data []byte
	appjson.Manifest
}

// readManifest reads img's app.json.
func readManifest(img v1.Image) (*manifest, error) {
	data, err := appimage.File(img, appjson.Name)
	if err != nil {
		return nil, err
	}
	m := &manifest{data: data}
	if data == nil {
		return m, nil
	}
	parsed, err := appjson.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: the image's %w", ErrFormation, err)
	}
	m.Manifest = *parsed
	return m, nil
}
