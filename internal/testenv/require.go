package testenv

import (
	"os"
	"strings"
	"testing"
)

// Need is something a test needs from the machine beyond the Go toolchain
// and a writable temp dir. Needs combine with |.
type Need uint

const (
	// Stack is the Debian test stack (StackTar, NamedStackTar), which
	// mmdebstrap builds with the network the first time.
	Stack Need = 1 << iota
	// Root is uid 0: mounting, creating device nodes, giving files to other
	// users, running a helper as the unprivileged test user.
	Root
	// Daemon is a private containerd (Containerd), which also needs root.
	Daemon
	// Network is the internet: package mirrors, remote buildpacks.
	Network
)

var needNames = []struct {
	need Need
	name string
}{
	{Stack, "the Debian test stack"},
	{Root, "root"},
	{Daemon, "a containerd daemon"},
	{Network, "the network"},
}

func (n Need) String() string {
	var names []string
	for _, nn := range needNames {
		if n&nn.need != 0 {
			names = append(names, nn.name)
		}
	}
	return strings.Join(names, ", ")
}

// Require marks what the test needs. With -short, the tier that must pass
// as an ordinary user offline, the test is skipped with the reason. Without
// -short nothing is skipped: every tier runs, and a test that needs root
// fails when not root, because rootless and daemon paths must be tested,
// never silently left out. The other needs are not checked here: the test
// fails where it uses them (StackTar, Containerd), naming what is missing.
func Require(t testing.TB, needs Need) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %v: not in the -short tier", needs)
	}
	if needs&(Root|Daemon) != 0 && os.Geteuid() != 0 {
		t.Fatalf("needs %v: run the full tier as root (CI does), or only the -short tier", needs)
	}
}

// forbidInShort fails a test that reaches for what the -short tier must
// not use without declaring it, so that an unguarded test shows up at once
// instead of quietly building a stack or starting a daemon. ident names the
// Need constant to require.
func forbidInShort(t testing.TB, ident string) {
	t.Helper()
	if testing.Short() {
		t.Fatalf("%s is not in the -short tier: call testenv.Require(t, testenv.%s) at the top of the test", ident, ident)
	}
}
