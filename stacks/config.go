package stacks

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Labels a stack image carries in its config, so that tools (and people
// running skopeo inspect) can tell what a stack was made from.
const (
	LabelName     = "io.paas.stack.name"
	LabelSuite    = "io.paas.stack.suite"
	LabelPackages = "io.paas.stack.packages"
)

// DefaultPath is the PATH of a stack whose image config sets none: Debian's
// default for root.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultEpoch is 1980-01-01T00:00:01Z, the timestamp the CNB lifecycle uses
// for reproducible images; it is also the earliest time a zip can hold.
const defaultEpoch = 315532801

// sourceDateEpoch returns SOURCE_DATE_EPOCH from the environment when it is a
// valid number of seconds, else defaultEpoch. It decides both mmdebstrap's
// file timestamps and the image's Created time, so the same inputs give the
// same digest.
func sourceDateEpoch() int64 {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	return defaultEpoch
}

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
			Env:    []string{"PATH=" + DefaultPath},
			Labels: labels,
		},
	}
}

// Env returns the stack's own environment from img's config, adding
// PATH=DefaultPath when the config has no PATH: buildpacks and the sandbox
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
	return append(env, "PATH="+DefaultPath), nil
}
