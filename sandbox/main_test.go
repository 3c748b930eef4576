package sandbox

import (
	"os"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

func TestMain(m *testing.M) {
	if Reexec() {
		return
	}
	code := m.Run()
	testenv.RemoveStackDir(RemoveAll)
	os.Exit(code)
}

// stackRoot returns the test stack, unpacked once and given to root
// inside the sandbox.
func stackRoot(t testing.TB) string {
	t.Helper()
	return testenv.StackDir(t, Own)
}

// mode is one id mapping the current user can run sandboxes with.
type mode struct {
	name string
	ids  idMap
}

// modes returns every mapping this process can use: root's, or for an
// ordinary user the subordinate ranges (when configured) and the caller
// alone.
func modes() []mode {
	ids := detectIDMap()
	switch ids.kind {
	case mapRoot:
		return []mode{{"root", ids}}
	case mapSubID:
		self := ids
		self.kind = mapSelf
		return []mode{{"subid", ids}, {"self", self}}
	}
	return []mode{{"self", ids}}
}
