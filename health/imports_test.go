package health_test

import (
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestImportsOnlyStandardLibrary keeps health free of the runtimes that
// start processes: it only needs an address and an "exited" signal, so
// both containerd and sandbox runs can use it. appjson is a standard
// library leaf shared with detect, so app.json is read one way.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	testenv.ImportsOnly(t, "github.com/paas-dev/paas/appjson")
}
