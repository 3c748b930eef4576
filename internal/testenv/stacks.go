package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// NamedStackTar returns a rootfs tarball of the stack described by
// testfixtures/stacks/NAME/recipe (for example "toolchains", the stack with
// Go, Node.js and Python that the builtin buildpacks need), building it with
// mmdebstrap the first time. Tarballs are cached by the recipe's hash, so
// StackTar(t) and NamedStackTar(t, "test") return the same file.
func NamedStackTar(t testing.TB, name string) string {
	t.Helper()
	forbidInShort(t, "Stack")
	path, err := stackTar(name)
	if err != nil {
		t.Fatalf("%s stack: %v", name, err)
	}
	return path
}

// stackDir is the test stack unpacked once per test process.
var stackDir struct {
	once sync.Once
	dir  string
	err  error
}

// StackDir returns the test stack unpacked once per test process by the
// user the process runs as, then handed to own (sandbox.Own: root inside
// the sandbox, since tar as root keeps owners root's mapping lacks).
// Device nodes are left out: an ordinary user cannot create them, and the
// sandbox makes its own /dev.
func StackDir(t testing.TB, own func(dir string) error) string {
	t.Helper()
	tarball := StackTar(t)
	stackDir.once.Do(func() {
		stackDir.dir, stackDir.err = os.MkdirTemp("", "paas-test-stack-")
		if stackDir.err != nil {
			return
		}
		out, err := exec.Command("tar", "-xf", tarball, "-C", stackDir.dir, "--exclude=./dev/*").CombinedOutput()
		if err != nil {
			stackDir.err = fmt.Errorf("unpacking %s: %w\n%s", tarball, err, out)
			return
		}
		stackDir.err = own(stackDir.dir)
	})
	if stackDir.err != nil {
		t.Fatal(stackDir.err)
	}
	return stackDir.dir
}

// RemoveStackDir removes what StackDir unpacked, if anything, with remove
// (sandbox.RemoveAll, which copes with the ids own gave the tree); for
// TestMain, after the tests.
func RemoveStackDir(remove func(dir string) error) {
	if stackDir.dir != "" {
		_ = remove(stackDir.dir)
	}
}
