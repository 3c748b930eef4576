package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// DefaultHome returns where paas keeps its data: $PAAS_HOME, else
// $XDG_DATA_HOME/paas, else ~/.local/share/paas, following the XDG base
// directory convention so the store lives with other per-user data.
func DefaultHome() string {
	if h := os.Getenv("PAAS_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "paas")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// Without $HOME there is no per-user place; a per-uid directory
		// under the temp dir at least keeps users apart.
		return filepath.Join(os.TempDir(), fmt.Sprintf("paas-%d", os.Getuid()))
	}
	return filepath.Join(home, ".local", "share", "paas")
}

// NormalizeName validates an image name and adds the tag "latest" when it
// has none, so "app" and "app:latest" name the same image. The user's
// spelling is kept otherwise: no registry or "library/" is added, because
// the name is shown back to the user and written into outputs.
func NormalizeName(s string) (string, error) {
	if _, err := name.NewTag(s, name.WeakValidation); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, s, err)
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if !strings.Contains(last, ":") {
		s += ":" + name.DefaultTag
	}
	return s, nil
}
