package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/rootfs"
	"github.com/paas-dev/paas/sandbox"
)

// Helper modes of TestSandbox, run by TestRootless as an ordinary user.
const (
	helperSubID    = "subid"    // the user's /etc/subuid range maps uid 1000
	helperUnmapped = "unmapped" // no newuidmap: only the user itself is mapped
)

func TestSandbox(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	dir := t.TempDir()
	rt, err := NewSandbox(dir)
	if err != nil {
		t.Fatalf("NewSandbox() = %v, want a runtime", err)
	}
	// An ordinary user cannot remove a rootfs owned by subordinate ids
	// the way t.TempDir does.
	t.Cleanup(func() { sandbox.RemoveAll(filepath.Join(dir, "rootfs")) })
	t.Cleanup(func() { rt.Close() })
	if got, want := rt.Name(), "sandbox"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	s := suite{rt: rt, idPrefix: "sbx", uid: "1000:1000", leftovers: sandboxLeftovers(dir)}
	if os.Getenv(helperEnv) == helperUnmapped {
		s.uid = "0:0"
		testUnmappedNotice(t, rt)
	}
	t.Run("Behaviour", func(t *testing.T) { testBehaviour(t, s) })
	checkRootfsCache(t, dir, appImage(t))
	if os.Getenv(helperEnv) == helperSubID {
		t.Run("RootfsPerMapping", testRootfsPerMapping)
	}
}

// testRootfsPerMapping starts the image with the user's subordinate ids
// mapped and then, without newuidmap in PATH, with only the user mapped:
// each mapping gets a rootfs of its own, in which /app belongs to what that
// mapping makes of the image's user (a subordinate id; the user itself).
func testRootfsPerMapping(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { sandbox.RemoveAll(filepath.Join(dir, "rootfs")) })
	rt, err := NewSandbox(dir)
	if err != nil {
		t.Fatalf("NewSandbox() = %v, want a runtime", err)
	}
	s := suite{rt: rt, idPrefix: "sbx-mapping", leftovers: sandboxLeftovers(dir)}
	var owners []int
	for i, path := range []string{os.Getenv("PATH"), "/nonexistent"} {
		t.Setenv("PATH", path)
		p := s.start(t, strconv.Itoa(i), appImage(t), []string{"true"}, nil)
		<-p.Done()
		s.stop(t, p, killTimeout)
		root := rootfsOf(t, dir, appImage(t))
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, "app"), &st); err != nil {
			t.Fatalf("rootfs of mapping %q: %v", sandbox.IDMapping(), err)
		}
		owners = append(owners, int(st.Uid))
	}
	if owners[0] == os.Getuid() || owners[1] != os.Getuid() {
		t.Errorf("host owners of /app = %d with subordinate ids, %d without; want another id, then %d", owners[0], owners[1], os.Getuid())
	}
}

// sandboxLeftovers fails a test if the process id left its directory.
func sandboxLeftovers(dir string) func(t *testing.T, id string) {
	return func(t *testing.T, id string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(dir, "proc", id)); !os.IsNotExist(err) {
			t.Errorf("directory of process %s: Lstat() = %v, want it removed", id, err)
		}
	}
}

// rootfsOf returns where the runtime in dir keeps img's rootfs under the
// current id mapping; the image must have been started already.
func rootfsOf(t *testing.T, dir string, img v1.Image) string {
	t.Helper()
	c, err := rootfs.Open(filepath.Join(dir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Get(t.Context(), img)
	if err != nil {
		t.Fatalf("rootfs of mapping %q: %v", sandbox.IDMapping(), err)
	}
	return root
}

// checkRootfsCache checks that after every process was stopped the cache
// holds the image's rootfs and nothing else but its lock.
func checkRootfsCache(t *testing.T, dir string, img v1.Image) {
	t.Helper()
	root, err := filepath.Rel(dir, rootfsOf(t, dir, img))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"proc", "rootfs", root}
	var got []string
	for _, pattern := range []string{"*", "proc/*", "rootfs/*", "rootfs/.*"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if rel, _ := filepath.Rel(dir, p); !strings.HasSuffix(rel, ".lock") {
				got = append(got, rel)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cache after the processes were stopped = %q, want %q", got, want)
	}
}

// testUnmappedNotice starts two processes on a runtime that cannot map
// the image's user: the first one's stderr says it runs as root instead,
// the second one's does not repeat it.
func testUnmappedNotice(t *testing.T, rt Runtime) {
	s := suite{rt: rt, idPrefix: "sbx-unmapped", leftovers: func(*testing.T, string) {}}
	for i, want := range []bool{true, false} {
		p := s.start(t, string(rune('a'+i)), appImage(t), []string{"true"}, nil)
		<-p.Done()
		if got := strings.Contains(p.stderr.String(), "running it as root inside the sandbox"); got != want {
			t.Errorf("process %d: stderr %q mentions running as root: %v, want %v", i+1, p.stderr, got, want)
		}
		s.stop(t, p, killTimeout)
	}
}

// TestRootless runs TestSandbox as an ordinary user, with the user's
// subordinate ids and without them.
func TestRootless(t *testing.T) {
	// Root runs the copy of the test binary as the unprivileged user.
	testenv.Require(t, testenv.Stack|testenv.Root)
	uid, gid := testenv.Unprivileged(t)
	buildFixtures(t)
	layerPath := filepath.Join(fixtures.dir, "stack.tar.gz")
	tests := []struct {
		mode string
		path string
		want string // in the helper's output
	}{
		{helperSubID, os.Getenv("PATH"), "--- PASS: TestSandbox/RootfsPerMapping "},
		// Without newuidmap in PATH the sandbox maps only the user.
		{helperUnmapped, "/nonexistent", "--- PASS: TestSandbox "},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			env := []string{"PATH=" + tt.path, helperEnv + "=" + tt.mode, stackLayerEnv + "=" + layerPath}
			out, err := runAs(t, uid, gid, env, "-test.run=^TestSandbox$", "-test.v", "-test.count=1")
			if err != nil || !strings.Contains(out, "--- PASS: TestSandbox ") || !strings.Contains(out, tt.want) {
				t.Fatalf("TestSandbox as uid %d (%s) = %v, want a pass; output:\n%s", uid, tt.mode, err, out)
			}
		})
	}
}
