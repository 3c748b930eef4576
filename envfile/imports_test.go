package envfile

import (
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestImports keeps envfile a leaf of the standard library: reading env
// files must not pull in builds, stores or runtimes. appfile opens the
// app's .env without following links out of the app.
func TestImports(t *testing.T) {
	testenv.ImportsOnly(t, "github.com/paas-dev/paas/appfile")
}
