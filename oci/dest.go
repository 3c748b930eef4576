package oci

import (
	"errors"
	"fmt"
	"strings"
)

// The transports an image can be written to and loaded from, named as
// skopeo names them so users can pass the same strings to both.
const (
	TransportOCI           = "oci"            // OCI image layout directory
	TransportOCIArchive    = "oci-archive"    // tar of an OCI image layout
	TransportDockerArchive = "docker-archive" // `docker save` format
)

// ErrInvalidDest reports an output or source string paas cannot use.
var ErrInvalidDest = errors.New("invalid destination")

const destForms = "oci:DIR, oci-archive:FILE or docker-archive:FILE"

// ParseDest splits an --output value into its transport and path. The path
// may not contain ':' because Load reads what follows one as the image name
// (oci:DIR:NAME, as in skopeo), so an output must stay loadable.
func ParseDest(dest string) (transport, path string, err error) {
	transport, path, ok := strings.Cut(dest, ":")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want %s", ErrInvalidDest, dest, destForms)
	}
	if !knownTransport(transport) {
		return "", "", fmt.Errorf("%w %q: unknown transport %q; want %s", ErrInvalidDest, dest, transport, destForms)
	}
	if path == "" {
		return "", "", fmt.Errorf("%w %q: empty path; want %s", ErrInvalidDest, dest, destForms)
	}
	if strings.Contains(path, ":") {
		return "", "", fmt.Errorf("%w %q: the path may not contain ':' (the image name is given separately); want %s", ErrInvalidDest, dest, destForms)
	}
	return transport, path, nil
}

// IsTransport reports whether ref names an image by transport, as
// oci:DIR[:NAME], oci-archive:FILE[:NAME] or docker-archive:FILE[:NAME],
// rather than by its name in the store. Such a ref is read with Load.
func IsTransport(ref string) bool {
	transport, _, ok := strings.Cut(ref, ":")
	return ok && knownTransport(transport)
}

func knownTransport(t string) bool {
	return t == TransportOCI || t == TransportOCIArchive || t == TransportDockerArchive
}

// parseSource splits a Load source into transport, path and optional
// image name.
func parseSource(source string) (transport, path, ref string, err error) {
	transport, rest, ok := strings.Cut(source, ":")
	if !ok {
		return "", "", "", fmt.Errorf("%w %q: want oci:DIR[:NAME], oci-archive:FILE[:NAME] or docker-archive:FILE[:NAME]", ErrInvalidDest, source)
	}
	path, ref, _ = strings.Cut(rest, ":")
	switch {
	case !knownTransport(transport):
		return "", "", "", fmt.Errorf("%w %q: unknown transport %q", ErrInvalidDest, source, transport)
	case path == "":
		return "", "", "", fmt.Errorf("%w %q: empty path", ErrInvalidDest, source)
	}
	return transport, path, ref, nil
}
