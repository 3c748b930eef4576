package rebase_test

import (
	"os"
	"testing"

	"github.com/paas-dev/paas/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	os.Exit(m.Run())
}
