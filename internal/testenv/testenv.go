// Package testenv gives tests the real things they need: a Debian stack
// tarball built with mmdebstrap, shared by every test on the machine, and a
// private containerd. Require declares those needs, so that the -short tier
// runs as an ordinary user offline and the full tier runs everything.
package testenv

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// CacheDir holds what tests build once per machine. /var/tmp survives reboots
// and is not cleaned between test runs.
const CacheDir = "/var/tmp/paas-testenv"

// RepoRoot returns the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture returns the path of a file or directory under testfixtures/.
func Fixture(parts ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "testfixtures"}, parts...)...)
}

// StackTar returns a rootfs tarball of the test stack described by
// testfixtures/stacks/test/recipe, building it with mmdebstrap the first time.
// Concurrent test processes wait for one build under a file lock.
func StackTar(t testing.TB) string {
	t.Helper()
	forbidInShort(t, "Stack")
	path, err := stackTar("test")
	if err != nil {
		t.Fatalf("test stack: %v", err)
	}
	return path
}

// stackTar builds (once) and returns the tarball of the recipe in
// testfixtures/stacks/NAME/recipe.
func stackTar(name string) (string, error) {
	recipe, err := os.ReadFile(Fixture("stacks", name, "recipe"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(recipe)
	out := filepath.Join(CacheDir, "stack-"+hex.EncodeToString(sum[:8])+".tar")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(CacheDir, 0o1777); err != nil {
		return "", err
	}
	_ = os.Chmod(CacheDir, 0o1777)
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	args, err := mmdebstrapArgs(recipe)
	if err != nil {
		return "", err
	}
	tmp := out + ".tmp"
	cmd := exec.Command("mmdebstrap", append(args, tmp)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mmdebstrap: %w\n%s", err, stderr.String())
	}
	_ = os.Chmod(tmp, 0o644)
	return out, os.Rename(tmp, out)
}

func mmdebstrapArgs(recipe []byte) ([]string, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(recipe))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("recipe line %q: want KEY=VALUE", line)
		}
		kv[k] = v
	}
	args := []string{"--mode=unshare", "--format=tar", "--quiet", "--variant=" + kv["variant"]}
	if p := kv["packages"]; p != "" {
		args = append(args, "--include="+p)
	}
	return append(args, kv["suite"]), nil
}

// Unprivileged returns the uid and gid of an ordinary user for rootless
// tests: the caller itself when it is not root, else the user named by
// PAAS_TEST_USER (default "paas-test", which .ci/run creates). It fails the
// test when there is none: rootless paths must be tested, not skipped.
func Unprivileged(t testing.TB) (uid, gid int) {
	t.Helper()
	if os.Getuid() != 0 {
		return os.Getuid(), os.Getgid()
	}
	name := os.Getenv("PAAS_TEST_USER")
	if name == "" {
		name = "paas-test"
	}
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("no unprivileged test user %q: create it with `useradd -m %s` (as .ci/run does)", name, name)
	}
	gout, err := exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatalf("id -g %s: %v", name, err)
	}
	if _, err := fmt.Sscan(string(out), &uid); err != nil {
		t.Fatalf("id -u %s printed %q: %v", name, out, err)
	}
	if _, err := fmt.Sscan(string(gout), &gid); err != nil {
		t.Fatalf("id -g %s printed %q: %v", name, gout, err)
	}
	return uid, gid
}

// UserDir makes a directory owned by uid:gid and readable by all, outside
// any directory only root may enter (t.TempDir's parent is private), and
// removes it after the test (as root, who can remove what the user's
// subordinate ids own).
func UserDir(t testing.TB, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "paas-test-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBinaryAs copies the running test binary into a UserDir of uid:gid so
// that user can run it, and returns its path and a private temp directory
// of that user's beside it (for TMPDIR).
func TestBinaryAs(t testing.TB, uid, gid int) (bin, tmp string) {
	t.Helper()
	dir := UserDir(t, uid, gid)
	bin = filepath.Join(dir, filepath.Base(os.Args[0]))
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp = filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		t.Fatal(err)
	}
	return bin, tmp
}
