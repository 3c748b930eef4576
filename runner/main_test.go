package runner

import (
	"os"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

// helperEnv makes a copy of the test binary, run as an ordinary user, play
// a part for the test that started it.
const helperEnv = "PAAS_RUNNER_TEST_HELPER"

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	code := m.Run()
	testenv.StopContainerd()
	removeFixtures()
	os.Exit(code)
}
