package builtin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/paas-dev/paas/buildpack"
)

// files holds every buildpack under buildpacks/NAME, and buildpacks/lib,
// the helpers each buildpack gets a copy of as lib/.
//
//go:embed buildpacks
var files embed.FS

// order is the detection order: the first buildpack whose bin/detect passes
// builds the app. Language buildpacks come before static (a Node.js app
// often has public/index.html) and procfile comes last: every app may have
// a Procfile.
var order = []string{"go", "nodejs", "python", "static", "procfile"}

// libDir is the shared directory copied into every buildpack.
const libDir = "lib"

// Names returns the builtin buildpacks' names in detection order.
func Names() []string {
	return append([]string(nil), order...)
}

// Extract writes the builtin buildpacks under dir and returns them in
// detection order, each referred to by its name (Ref "go") and pinned by a
// hash of its own content (Resolved "builtin@sha256:…"), so an image's
// label names them the same way on every machine. They go to a
// subdirectory named after a hash of all the content, so a paas binary with
// changed buildpacks extracts anew while an unchanged one reuses what is
// there. The subdirectory is written under a temporary name and renamed
// into place, so concurrent calls and interrupted ones never leave a
// partial set.
func Extract(dir string) ([]*buildpack.Buildpack, error) {
	sum, err := contentHash("buildpacks")
	if err != nil {
		return nil, err
	}
	final := filepath.Join(dir, sum[:16])
	if _, err := os.Stat(final); err != nil {
		if err := extractTo(dir, final); err != nil {
			return nil, err
		}
	}
	bps := make([]*buildpack.Buildpack, len(order))
	for i, name := range order {
		own, err := contentHash(path.Join("buildpacks", name), path.Join("buildpacks", libDir))
		if err != nil {
			return nil, err
		}
		bps[i] = &buildpack.Buildpack{Ref: name, Name: name, Dir: filepath.Join(final, name), Resolved: "builtin@sha256:" + own}
	}
	return bps, nil
}

// extractTo writes the buildpacks into a temporary directory in parent and
// renames it to final; losing a race with another Extract is fine.
func extractTo(parent, final string) (retErr error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("extracting builtin buildpacks: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".extract-")
	if err != nil {
		return fmt.Errorf("extracting builtin buildpacks: %w", err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, name := range order {
		if err := writeBuildpack(filepath.Join(tmp, name), name); err != nil {
			return fmt.Errorf("extracting builtin buildpack %s: %w", name, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(final); statErr == nil {
			// Another Extract won the race with the same content.
			os.RemoveAll(tmp)
			return nil
		}
		return fmt.Errorf("extracting builtin buildpacks: %w", err)
	}
	return nil
}

// writeBuildpack writes buildpack name, plus the shared lib, into dst.
func writeBuildpack(dst, name string) error {
	if err := copyFS(path.Join("buildpacks", name), dst); err != nil {
		return err
	}
	return copyFS(path.Join("buildpacks", libDir), filepath.Join(dst, libDir))
}

// copyFS copies the embedded tree src to dst; files under a bin directory
// are executable.
func copyFS(src, dst string) error {
	return fs.WalkDir(files, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if path.Base(path.Dir(p)) == "bin" {
			mode = 0o755
		}
		return writeFile(target, data, mode)
	})
}

// writeFile writes data with exactly mode, whatever the umask.
func writeFile(name string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(name, data, mode); err != nil {
		return err
	}
	return os.Chmod(name, mode)
}

// contentHash returns the hex sha256 of every embedded file's path and
// content under the roots, in a fixed order.
func contentHash(roots ...string) (string, error) {
	var names []string
	for _, root := range roots {
		err := fs.WalkDir(files, root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, p)
			}
			return err
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	if len(names) == 0 {
		return "", errors.New("no builtin buildpacks embedded")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
