package layers

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// childEnv marks a test process re-executed as the unprivileged user.
const childEnv = "PAAS_LAYERS_UNPRIVILEGED_CHILD"

// asCallerAndUnprivileged runs body as the calling user and, when that is
// root, again as an ordinary user in a re-executed test process, because
// Unpack must work for both (rootless builds unpack stacks unprivileged).
func asCallerAndUnprivileged(t *testing.T, body func(t *testing.T)) {
	if os.Getenv(childEnv) != "" {
		t.Run("unprivileged", body)
		return
	}
	t.Run("caller", body)
	if os.Getuid() != 0 {
		return // the caller was already unprivileged
	}
	t.Run("unprivileged", func(t *testing.T) { runUnprivileged(t) })
}

// runUnprivileged re-runs the current top-level test as testenv's
// unprivileged user and fails t if it fails.
func runUnprivileged(t *testing.T) {
	uid, gid := testenv.Unprivileged(t)
	bin := copyTestBinary(t)
	top := t.Name()[:len(t.Name())-len("/unprivileged")]
	cmd := exec.Command(bin, "-test.run=^"+top+"$", "-test.count=1", "-test.v")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), childEnv+"=1", "TMPDIR=/tmp", "HOME=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as uid %d: %v\n%s", top, uid, err, out)
	}
	t.Logf("%s as uid %d:\n%s", top, uid, out)
}

// copyTestBinary copies this test binary where any user can run it (the go
// tool builds it in a directory only its owner can enter).
func copyTestBinary(t *testing.T) string {
	dir, err := os.MkdirTemp("", "layers-test-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "layers.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
