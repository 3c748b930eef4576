package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// misbehavingApp is an app telling the hang buildpack how to misbehave.
func misbehavingApp(t *testing.T, u user, how string) string {
	t.Helper()
	app := userTempDir(t, u)
	if err := os.WriteFile(filepath.Join(app, "misbehave"), []byte(how), 0o644); err != nil {
		t.Fatal(err)
	}
	chown(t, app, u)
	return app
}

// A build that never ends is stopped by --timeout, and so is everything it
// started; scripts that print without end fill no memory: compile's tail
// keeps a bounded line, release's stdout is refused past its cap.
func TestBuildLimits(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		tests := []struct {
			how     string
			args    []string
			code    int
			message string
		}{
			{"compile-hangs", []string{"--timeout", "3s"}, exitTimeout, "the build ran longer than 3s, in compile"},
			{"compile-floods", []string{"--timeout", "5s"}, exitTimeout, "the build ran longer than 5s, in compile"},
			{"release-floods", nil, exitRelease, "bin/release printed more than paas reads (1048576 bytes)"},
		}
		for _, tt := range tests {
			t.Run(tt.how, func(t *testing.T) {
				args := append([]string{"build", "-q", "-t", "limits", "-b", buildpackDir("hang")}, tt.args...)
				out, code := h.paas(t, append(args, misbehavingApp(t, h.user, tt.how))...)
				if code != tt.code {
					t.Fatalf("exit %d, want %d\n%.2000s", code, tt.code, out.stderr)
				}
				contains(t, "stderr", out.stderr, tt.message)
			})
		}
		t.Run("compile-forks", func(t *testing.T) {
			r := h.mustBuild(t, "-t", "forks", "--pids-limit", "64", "-b", buildpackDir("hang"), misbehavingApp(t, h.user, "compile-forks"))
			n, err := strconv.Atoi(strings.TrimSpace(appFile(t, h, r.Image, "procs.txt")))
			if err != nil || n > 64 || n < 8 {
				t.Errorf("the sandbox held %d processes (%v), want at most --pids-limit 64", n, err)
			}
		})
		t.Run("compile-eats-memory", func(t *testing.T) {
			out, code := h.paas(t, "build", "-t", "memory", "--memory", "128m", "-b", buildpackDir("hang"), misbehavingApp(t, h.user, "compile-eats-memory"))
			if h.user.uid != 0 {
				// No cgroups for an ordinary user on this host: said, not enforced.
				contains(t, "stderr", out.stderr, "cgroups with limits are not available")
				return
			}
			if code != exitCompile {
				t.Fatalf("exit %d, want %d (killed past --memory)\n%s", code, exitCompile, out.stderr)
			}
			contains(t, "stderr", out.stderr, "bin/compile was killed (signal 9: out of memory past --memory")
		})
	})
}

// A buildpack that fills the disk fails its build and nothing else: the
// store keeps every earlier tag, and the build's scratch space is gone.
func TestBuildDiskFiller(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	forEachUser(t, func(t *testing.T, h *testHome) {
		if os.Getuid() != 0 {
			t.Fatal("mounting a small tmpfs needs root")
		}
		mnt := userTempDir(t, h.user)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", mnt).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
		chown(t, mnt, h.user)
		small := newHome(t, h.user, mnt)
		before := small.mustBuild(t, "-t", "filler", "-b", buildpackDir("hello"), appCopy(t, h.user, "hello"))
		index, err := os.ReadFile(filepath.Join(small.dir, "oci", "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		out, code := small.paas(t, "build", "-t", "filler", "-b", buildpackDir("hang"), misbehavingApp(t, h.user, "compile-fills-disk"))
		if code != exitCompile {
			t.Fatalf("exit %d, want %d\n%s", code, exitCompile, out.stderr)
		}
		contains(t, "stderr", out.stderr, "No space left on device")
		if after, _ := os.ReadFile(filepath.Join(small.dir, "oci", "index.json")); string(after) != string(index) {
			t.Error("index.json changed by a failed build")
		}
		if r := small.mustBuild(t, "-t", "filler", "-b", buildpackDir("hello"), appCopy(t, h.user, "hello")); r.Digest != before.Digest {
			t.Errorf("rebuild after the filler = %s, want %s (the disk is usable again)", r.Digest, before.Digest)
		}
		if left, _ := os.ReadDir(filepath.Join(small.dir, "tmp")); len(left) != 0 {
			t.Errorf("scratch space left behind: %v", left)
		}
	})
}
