package proxy_test

import (
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// TestImportsOnlyStandardLibrary keeps the proxy free of the rest of paas
// and of third-party code: it sits in front of every request, and `paas
// run` must be able to use it whatever runs the app.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	testenv.ImportsOnly(t)
}
