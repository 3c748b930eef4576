package detect

import (
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestImports keeps detect a leaf of the standard library: choosing
// buildpacks must not pull in the sandbox, the image store or containerd.
// appjson is a standard library leaf shared with health, so app.json is
// read one way; project reads project.toml (with a TOML parser) for detect
// and the build alike; appfile opens files in the app without following
// links out.
func TestImports(t *testing.T) {
	testenv.ImportsOnly(t, "github.com/paas-dev/paas/appjson", "github.com/paas-dev/paas/appfile",
		"github.com/paas-dev/paas/project", "github.com/BurntSushi/toml")
}
