package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

func TestMain(m *testing.M) {
	if Reexec() {
		return
	}
	code := m.Run()
	if stack.dir != "" {
		os.RemoveAll(stack.dir)
	}
	os.Exit(code)
}

// stack is the test stack unpacked once per test process, by the user the
// process runs as, so that its files are owned by an id the sandbox maps.
var stack struct {
	once sync.Once
	dir  string
	err  error
}

// stackRoot returns the unpacked test stack. Device nodes are left out:
// an ordinary user cannot create them, and the sandbox makes its own /dev.
// As root, tar keeps the stack's owners, which root's mapping lacks, so
// the tree is given to root inside as Own does.
func stackRoot(t testing.TB) string {
	t.Helper()
	tarball := testenv.StackTar(t)
	stack.once.Do(func() {
		stack.dir, stack.err = os.MkdirTemp("", "paas-sandbox-stack-")
		if stack.err != nil {
			return
		}
		out, err := exec.Command("tar", "-xf", tarball, "-C", stack.dir, "--exclude=./dev/*").CombinedOutput()
		if err != nil {
			stack.err = fmt.Errorf("unpacking %s: %w\n%s", tarball, err, out)
			return
		}
		stack.err = Own(stack.dir)
	})
	if stack.err != nil {
		t.Fatal(stack.err)
	}
	return stack.dir
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
