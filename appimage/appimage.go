// Package appimage reads what paas wrote into an app image: its processes,
// buildpacks, stack and layers (Inspect), and the app's own files (File).
package appimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/oci"
)

// Inspection is what `paas inspect` shows.
type Inspection struct {
	Name       string            `json:"name"`
	Digest     string            `json:"digest"`
	Created    string            `json:"created"`
	Stack      json.RawMessage   `json:"stack,omitempty"`
	Buildpacks json.RawMessage   `json:"buildpacks,omitempty"`
	Processes  map[string]string `json:"processes"`
	Default    string            `json:"default_process,omitempty"`
	Env        []string          `json:"env"`
	User       string            `json:"user"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd"`
	Labels     map[string]string `json:"labels"`
	Layers     []Layer           `json:"layers"`
}

// Layer is one layer of an Inspection.
type Layer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	By     string `json:"created_by,omitempty"`
}

// Inspect reads img's config and labels; name is how the user named it.
func Inspect(img v1.Image, name string) (*Inspection, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", name, err)
	}
	c := cf.Config
	in := &Inspection{
		Name: name, Digest: digest.String(), Created: cf.Created.UTC().Format("2006-01-02T15:04:05Z"),
		Env: c.Env, User: c.User, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Labels: c.Labels,
		Processes: map[string]string{},
	}
	if s := c.Labels[oci.LabelStack]; s != "" {
		in.Stack = json.RawMessage(s)
	}
	if s := c.Labels[oci.LabelBuildpacks]; s != "" {
		in.Buildpacks = json.RawMessage(s)
	}
	if s := c.Labels[oci.LabelProcesses]; s != "" {
		_ = json.Unmarshal([]byte(s), &in.Processes)
	}
	in.Default = launch.DefaultType(in.Processes)
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the layers of %s: %w", name, err)
	}
	for i, l := range ls {
		d, _ := l.Digest()
		size, _ := l.Size()
		row := Layer{Digest: d.String(), Size: size}
		if i < len(cf.History) {
			row.By = cf.History[i].CreatedBy
		}
		in.Layers = append(in.Layers, row)
	}
	return in, nil
}

// maxFile bounds what File reads: app files paas reads back (app.json)
// are small, and an image is untrusted input.
const maxFile = 1 << 20

// File returns the content of /app/NAME from img's layers (the last layer
// holding it wins), or nil when there is none.
func File(img v1.Image, name string) ([]byte, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	for i := len(ls) - 1; i >= 0; i-- {
		data, found, err := fileFromLayer(ls[i], "app/"+name)
		if err != nil || found {
			return data, err
		}
	}
	return nil, nil
}

// fileFromLayer streams a layer looking for one small file.
func fileFromLayer(l v1.Layer, path string) ([]byte, bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, false, fmt.Errorf("reading layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading layer: %w", err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == path && hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(io.LimitReader(tr, maxFile))
			return data, true, err
		}
	}
}
