// Package appjson reads app.json, Heroku's app manifest as Dokku extends
// it. paas reads `buildpacks` when building (package detect), and
// `healthchecks` (package health), `formation`, `cron` and `scripts`
// (package deploy) when running. Each reads the file through Parse, so it is decoded one way;
// each key's content is left to the package that uses it. The package
// imports only the standard library, so any of them may import it.
package appjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/paas-dev/paas/appfile"
)

// Name is the manifest's file name in the app's root directory.
const Name = "app.json"

// Manifest is the part of app.json paas reads. Unknown keys are ignored.
type Manifest struct {
	// Buildpacks are Heroku's `buildpacks` list: `[{"url": "…"}]`.
	Buildpacks []Buildpack `json:"buildpacks"`
	// Healthchecks is Dokku's `healthchecks` object, kept undecoded: only
	// `paas run` needs it (health.ParseAppJSON), and a mistake in it must
	// not stop a build.
	Healthchecks json.RawMessage `json:"healthchecks"`
	// Formation is Heroku's `formation` object (`{"web": {"quantity":
	// 2}}`), kept undecoded for the same reason: package deploy reads it.
	Formation json.RawMessage `json:"formation"`
	// Cron is Dokku's `cron` list (`[{"command": "…", "schedule": "…"}]`),
	// undecoded too.
	Cron json.RawMessage `json:"cron"`
	// Scripts is `scripts`, whose `dokku` object names the predeploy and
	// postdeploy commands; undecoded too.
	Scripts json.RawMessage `json:"scripts"`
}

// Buildpack is one entry of `buildpacks`.
type Buildpack struct {
	URL string `json:"url"`
}

// Parse decodes app.json's content.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", Name, err)
	}
	return &m, nil
}

// Read reads and parses dir/app.json. A missing file gives an error
// matching fs.ErrNotExist; other errors name the file.
func Read(dir string) (*Manifest, error) {
	path := filepath.Join(dir, Name)
	data, err := appfile.ReadFile(dir, Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	return m, nil
}

// BuildpackURLs returns the `buildpacks` entries' urls, in order, trimmed.
// An entry without a url is an error naming its index.
func (m *Manifest) BuildpackURLs() ([]string, error) {
	urls := make([]string, 0, len(m.Buildpacks))
	for i, bp := range m.Buildpacks {
		url := strings.TrimSpace(bp.URL)
		if url == "" {
			return nil, fmt.Errorf("buildpacks[%d] has no \"url\": write each entry as {\"url\": \"REFERENCE\"}", i)
		}
		urls = append(urls, url)
	}
	return urls, nil
}
