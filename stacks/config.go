package stacks

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// sourceDateEpoch is layers.SourceDateEpoch in seconds: it decides both
// mmdebstrap's file timestamps and the image's Created time.
func sourceDateEpoch() int64 { return layers.SourceDateEpoch().Unix() }

// stackConfig is the image config of a one-layer stack image; mutate.Append
// fills in RootFS and History.
func stackConfig(labels map[string]string) *v1.ConfigFile {
	created := v1.Time{Time: time.Unix(sourceDateEpoch(), 0).UTC()}
	return &v1.ConfigFile{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		Created:      created,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env:    []string{"PATH=" + sandbox.DefaultPath},
			Labels: labels,
		},
	}
}

// Env returns the stack's own environment from img's config, adding
// PATH=sandbox.DefaultPath when the config has no PATH: buildpacks and the sandbox
// shell need one, and images made by other tools often leave it out.
func Env(img v1.Image) ([]string, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	env := append([]string(nil), cfg.Config.Env...)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env, nil
		}
	}
	return append(env, "PATH="+sandbox.DefaultPath), nil
}
