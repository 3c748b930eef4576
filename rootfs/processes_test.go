package rootfs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

// TestGetAfterKill kills a process in the middle of an unpack and checks
// that the next call neither sees a tree nor keeps the leftover.
func TestGetAfterKill(t *testing.T) {
	var entries []testenv.TarEntry
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		entries = append(entries, testenv.Dir(n, 0o555), testenv.File(n+"/file", strings.Repeat(n, 600)))
	}
	img := imageOf(t, layerOf(t, entries...))
	src := writeLayout(t, img)
	c := newCache(t)

	cmd := helperCommand(t, "stall", c.Dir(), src)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper: %v", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "stalled\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, want stalled", line)
	}
	left, _ := filepath.Glob(filepath.Join(c.Dir(), ".unpack-*"))
	cmd.Process.Kill()
	cmd.Wait()
	if len(left) != 1 {
		t.Fatalf("half-unpacked trees = %v, want one", left)
	}
	final := filepath.Join(c.Dir(), nameOf(t, img))
	if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after kill = %v, want not exist", final, err)
	}

	root, err := c.Get(context.Background(), img)
	if err != nil || root != final {
		t.Fatalf("Get() after kill = %v, %v, want %v", root, err, final)
	}
	if b, err := os.ReadFile(filepath.Join(root, "f/file")); err != nil || len(b) != 600 {
		t.Errorf("ReadFile(f/file) = %d bytes, %v, want 600", len(b), err)
	}
	checkOnlyFinal(t, c, nameOf(t, img))
}

// TestGetUnprivileged unpacks the test stack as an ordinary user, the way
// rootless builds do, then removes it as that user.
func TestGetUnprivileged(t *testing.T) {
	// Root runs the helpers as the unprivileged user.
	testenv.Require(t, testenv.Stack|testenv.Root)
	uid, gid := testenv.Unprivileged(t)
	// An OCI layout the user can read, so the helpers need not recompress
	// the stack.
	src := writeLayoutIn(t, sharedTempDir(t), testStackImage(t))
	dir := sharedTempDir(t)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	run := func(mode string) string {
		cmd := helperCommand(t, mode, dir, src)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(cmd.Env, "HOME="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper %s as uid %d: %v\n%s", mode, uid, err, stderrOf(err))
		}
		return strings.TrimSpace(string(out))
	}
	root := run("get")
	checkStackTree(t, root)
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, "etc/debian_version"), &st); err != nil || int(st.Uid) != uid {
		t.Errorf("owner of etc/debian_version = %d, %v, want %d", st.Uid, err, uid)
	}
	if again := run("get"); again != root {
		t.Errorf("Get() again as uid %d = %v, want %v", uid, again, root)
	}
	run("remove")
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after Remove() as uid %d = %v, want not exist", root, uid, err)
	}
}

// helperCommand runs the test binary as a helper (see runHelper). The binary
// is copied to a world-readable directory so other users can run it too.
func helperCommand(t *testing.T, mode, dir, layoutDir string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(sharedDir, "rootfs.test")
	helperBin.Do(func() { helperBinErr = copyFile(self, bin, 0o755) })
	if helperBinErr != nil {
		t.Fatalf("copying test binary: %v", helperBinErr)
	}
	cmd := exec.Command(bin, "-test.run=^$", dir, layoutDir)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// sharedTempDir is a temporary directory that other users can enter.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	if err := os.Chmod(sharedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(sharedDir, "home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandbox.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return fsutil.WriteFile(dst, mode, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
