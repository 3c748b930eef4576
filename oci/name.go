package oci

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kind is a namespace of the store: an app image and a stack may carry the
// same name without clashing.
type Kind string

// The store's namespaces.
const (
	KindImage Kind = "image"
	KindStack Kind = "stack"
)

func (k Kind) valid() error {
	if k != KindImage && k != KindStack {
		return fmt.Errorf("%w: kind %q (want %q or %q)", ErrInvalidName, k, KindImage, KindStack)
	}
	return nil
}

// ErrInvalidName reports a name or kind that cannot tag an image.
var ErrInvalidName = errors.New("invalid image name")

// Repository returns name without its tag: the part that names the app
// across its builds ("hello" of "hello:v2", "host:5000/a/b" of
// "host:5000/a/b:latest").
func Repository(name string) string {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i]
	}
	return name
}

// NormalizeName validates an image name and adds the tag "latest" when it
// has none, so "app" and "app:latest" name the same image. The user's
// spelling is kept otherwise: no registry or "library/" is added, because
// the name is shown back to the user and written into outputs.
func NormalizeName(s string) (string, error) {
	if _, err := name.NewTag(s, name.WeakValidation); err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidName, s, err)
	}
	if err := checkPath(s); err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidName, s, err)
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if !strings.Contains(last, ":") {
		s += ":" + name.DefaultTag
	}
	return s, nil
}

// pathComponent is a repository path component as the OCI distribution
// spec defines it: lower-case letters and digits, separated inside by '.',
// '_', '__' or dashes. go-containerregistry accepts more ("..", "a//b"),
// and names become file names in the store, so paas holds to the spec.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)

// tagPattern is a tag as the distribution spec defines it.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// registryHost is a registry's host name with an optional port.
var registryHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?$`)

// checkPath refuses a name whose repository path has an empty, "." or ".."
// component, or one the distribution spec does not allow.
func checkPath(s string) error {
	repo, _, _ := strings.Cut(s, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		if tag := repo[i+1:]; !tagPattern.MatchString(tag) {
			return fmt.Errorf("tag %q: use letters, digits, '_', '.' and '-', not starting with '.' or '-'", tag)
		}
		repo = repo[:i]
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 1 && isHost(parts[0]) {
		if !registryHost.MatchString(parts[0]) {
			return fmt.Errorf("registry %q is not a host name", parts[0])
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathComponent.MatchString(p) {
			return fmt.Errorf("path component %q: use lower-case letters and digits, separated by '.', '_' or '-'", p)
		}
	}
	return nil
}

// isHost reports whether a name's first component names a registry, as
// Docker decides: it holds a '.' or a ':', or is localhost.
func isHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}
