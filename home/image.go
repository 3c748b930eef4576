package home

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/oci"
)

// Image finds an app image by store name ("app" means "app:latest") or by
// transport (oci:DIR, oci-archive:FILE, docker-archive:FILE), and returns
// it with its normalised name (the transport itself for those).
func (h *Home) Image(ref string) (v1.Image, string, error) {
	if oci.IsTransport(ref) {
		img, err := oci.Load(ref)
		return img, ref, err
	}
	name, err := oci.NormalizeName(ref)
	if err != nil {
		return nil, "", err
	}
	img, _, err := h.store.Image(oci.KindImage, name)
	if err != nil {
		return nil, "", fmt.Errorf("%w (see `paas images`)", err)
	}
	return img, name, nil
}
