package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// helperEnv makes a re-run test binary play a part for the test that
// started it.
const helperEnv = "PAAS_SANDBOX_TEST_HELPER"

// TestRootless runs TestSandbox again as an ordinary user, in a copy of the
// test binary that user can execute, and checks that every mapping that
// user has was exercised.
func TestRootless(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	uid, gid := testenv.Unprivileged(t)
	bin, tmp := testenv.TestBinaryAs(t, uid, gid)
	cmd := exec.Command(bin, "-test.run=^TestSandbox$", "-test.v", "-test.count=1")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "HOME=" + tmp, helperEnv + "=rootless"}
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TestSandbox as uid %d = %v, want success; output:\n%s", uid, err, out)
	}
	for _, m := range []string{"subid", "self"} {
		if want := "--- PASS: TestSandbox/" + m + " "; !strings.Contains(string(out), want) {
			t.Errorf("TestSandbox as uid %d output lacks %q:\n%s", uid, want, out)
		}
	}
}

// TestUnavailable runs the test binary in a user namespace whose limit on
// nested user namespaces is 0, and there checks that Available and New
// report ErrUnavailable and point to `--sandbox none`.
func TestUnavailable(t *testing.T) {
	if os.Getenv(helperEnv) == "nouserns" {
		checkUnavailable(t)
		return
	}
	// Only a user namespace owned by the host's root may lower its limit on
	// nested user namespaces.
	testenv.Require(t, testenv.Root)
	// By /proc/self/exe: as root the helper is an unprivileged host user
	// that may not search the directory holding the test binary.
	cmd := exec.Command("/proc/self/exe", "-test.run=^TestUnavailable$", "-test.count=1")
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), helperEnv+"=nouserns")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	detectIDMap().apply(cmd.SysProcAttr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TestUnavailable helper = %v, want success; output:\n%s", err, out)
	}
}

func checkUnavailable(t *testing.T) {
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0o644); err != nil {
		t.Fatalf("limiting user namespaces: %v", err)
	}
	err := Available()
	t.Logf("Available() = %v", err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "--sandbox none") {
		t.Errorf("Available() = %v, want %v mentioning --sandbox none", err, ErrUnavailable)
	}
	_, err = New(Config{Root: t.TempDir(), Upper: filepath.Join(t.TempDir(), "upper")})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("New() = %v, want %v", err, ErrUnavailable)
	}
}
