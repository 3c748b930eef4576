package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// fixture is one sandbox over the test stack with a fresh Upper and a
// read-write and a read-only host directory mounted.
type fixture struct {
	sb          Sandbox
	cfg         Config
	app, config string // host sources of /app and /config (read-only)
}

func newFixture(t testing.TB, m mode, network Network) *fixture {
	t.Helper()
	f := &fixture{app: scratchDir(t), config: scratchDir(t)}
	// What the caller makes for the sandbox to write is given to root
	// inside, as paas does with a build's directories.
	for _, dir := range []string{f.app, f.config} {
		if err := m.ids.own(dir); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg = Config{
		Root:  stackRoot(t),
		Upper: filepath.Join(scratchDir(t), "upper"),
		Mounts: []Mount{
			{Source: f.app, Target: "/app"},
			{Source: f.config, Target: "/config", ReadOnly: true},
		},
		Network: network,
	}
	sb, err := newWithIDs(f.cfg, m.ids)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	f.sb = sb
	return f
}

// scratchDir returns a directory that sandboxes may fill with files the
// caller cannot remove by itself, removed with RemoveAll after the test.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "paas-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := RemoveAll(dir); err != nil {
			t.Errorf("RemoveAll(%s) = %v, want nil", dir, err)
		}
	})
	return dir
}

// sh runs script with sh -c and returns its stdout and stderr.
func (f *fixture) sh(t *testing.T, script string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := f.sb.Run(context.Background(), &Cmd{Args: []string{"sh", "-c", script}, Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// mustSh runs script and fails the test unless it succeeds.
func (f *fixture) mustSh(t *testing.T, script string) string {
	t.Helper()
	out, errOut, err := f.sh(t, script)
	if err != nil {
		t.Fatalf("Run(%q) = %v, want nil; stderr:\n%s", script, err, errOut)
	}
	return out
}

// TestSandbox runs every behaviour under every id mapping this user has;
// TestRootless runs it again as an ordinary user.
func TestSandbox(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	tests := []struct {
		name string
		fn   func(*testing.T, mode)
	}{
		{"stack is root", testStackIsRoot},
		{"exit status", testExitStatus},
		{"output streams", testStreams},
		{"writes stay in upper", testWritesStayInUpper},
		{"tmp is private", testTmpIsPrivate},
		{"host paths hidden", testHostPathsHidden},
		{"mounts", testMounts},
		{"init is pid 1", testInitIsPid1},
		{"network none", testNetworkNone},
		{"network host", testNetworkHost},
		{"cancel kills", testCancelKills},
		{"upper persists", testUpperPersists},
		{"remove stack dir", testRemoveStackDir},
		{"devices", testDevices},
		{"ids", testIDs},
		{"dir and env", testDirAndEnv},
		{"command not found", testCommandNotFound},
		{"remove all", testRemoveAll},
		{"unpack", testUnpack},
		{"confined", testConfined},
		{"overlay", testOverlay},
		{"overlay refused", testOverlayRefused},
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, m)
				})
			}
		})
	}
}

// BenchmarkRun measures the cost of one Run of a trivial command: starting
// the init, mounting the overlay and the rest, and tearing it all down.
func BenchmarkRun(b *testing.B) {
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) {
			f := newFixture(b, m, NetworkHost)
			cmd := &Cmd{Args: []string{"/bin/true"}}
			for b.Loop() {
				if err := f.sb.Run(context.Background(), cmd); err != nil {
					b.Fatalf("Run() = %v, want nil", err)
				}
			}
		})
	}
}

func testNetworkNone(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkNone)
	got := f.mustSh(t, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null || true")
	if ifaces := strings.Fields(got); len(ifaces) == 0 || ifaces[0] != "lo" || len(ifaces) > 2 {
		t.Errorf("interfaces with NetworkNone = %q, want only lo", got)
	}
}

func testNetworkHost(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	want, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /proc/net/dev"); len(strings.Split(got, "\n")) != len(strings.Split(string(want), "\n")) {
		t.Errorf("/proc/net/dev inside = %q, want the host's interfaces %q", got, want)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /etc/resolv.conf"); got != string(resolv) {
		t.Errorf("/etc/resolv.conf inside = %q, want the host's %q", got, resolv)
	}
}
