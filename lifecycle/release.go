package lifecycle

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Release is what a buildpack's bin/release prints.
type Release struct {
	DefaultProcessTypes map[string]string `yaml:"default_process_types"`
	ConfigVars          map[string]string `yaml:"config_vars"`
	// Addons are requests for hosted services; a self-hosted platform has
	// none to give, so they are read and ignored.
	Addons []string `yaml:"addons"`
}

var processType = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseRelease parses bin/release output. Empty output is an empty release.
func ParseRelease(out []byte) (Release, error) {
	var r Release
	if err := yaml.Unmarshal(out, &r); err != nil {
		return Release{}, fmt.Errorf("invalid YAML: %w", err)
	}
	for typ, cmd := range r.DefaultProcessTypes {
		if !processType.MatchString(typ) {
			return Release{}, fmt.Errorf("process type %q: names are letters, digits, _ and -", typ)
		}
		if cmd == "" {
			return Release{}, fmt.Errorf("process type %q has an empty command", typ)
		}
	}
	for name := range r.ConfigVars {
		if !varName.MatchString(name) {
			return Release{}, fmt.Errorf("config var %q is not a valid variable name", name)
		}
	}
	return r, nil
}
