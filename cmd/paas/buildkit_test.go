package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// An ordinary user builds on a BuildKit daemon named by BUILDKIT_HOST: a
// classic multi-buildpack app gets the image the same user's local build
// makes, and what a hostile buildpack makes as root on the worker (device
// nodes, set-id files) neither reaches the user's copy nor fails the build.
func TestBuildOnBuildKitRootless(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	u := unprivileged(t)
	kit.Grant(t, u.uid, u.gid)
	h := sharedHome(t, u)
	onKit := []string{"BUILDKIT_HOST=" + kit.Address}

	app := userTempDir(t, u)
	writeFile(t, filepath.Join(app, ".buildpacks"), buildpackDir("bash-exporter")+"\n"+buildpackDir("bash-consumer")+"\n")
	chown(t, app, u)
	local := h.mustBuild(t, "-t", "kit-rootless-local", app)
	out, code := h.paasEnv(t, onKit, "build", "--json", "-t", "kit-rootless", app)
	if code != 0 {
		t.Fatalf("paas build on BuildKit: exit %d\n%s", code, out.stderr)
	}
	contains(t, "build output", out.stderr, "Building on BuildKit at "+kit.Address)
	contains(t, "build output", out.stderr, "bash-consumer saw: hello from bash")
	contains(t, "--json", out.stdout, `"digest": "`+local.Digest+`"`)

	hostile := userTempDir(t, u)
	writeFile(t, filepath.Join(hostile, ".buildpacks"), buildpackDir("devices")+"\n"+buildpackDir("devices-check")+"\n")
	writeFile(t, filepath.Join(hostile, "Procfile"), "web: sleep 1\n")
	chown(t, hostile, u)
	out, code = h.paasEnv(t, onKit, "build", "-t", "kit-rootless-hostile", hostile)
	if code != 0 {
		t.Fatalf("paas build of the hostile app on BuildKit: exit %d\n%s", code, out.stderr)
	}
	contains(t, "build output", out.stderr, "made /app/disk")
	if strings.Contains(out.stderr, "FOUND") || !strings.Contains(out.stderr, "kept /app/sush") {
		t.Errorf("a device node or a set-id bit came back from BuildKit:\n%s", out.stderr)
	}
}

// On BuildKit as locally, --timeout stops a build that never ends, and a
// release that prints without end is refused past paas's cap (cut on the
// worker, not piled up on its disk).
func TestBuildKitLimits(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := sharedHome(t, root)
	for _, tt := range []struct {
		how     string
		args    []string
		code    int
		message string
	}{
		// Long enough for a fresh daemon to take in the stack first.
		{"compile-hangs", []string{"--timeout", "20s"}, exitTimeout, "the build ran longer than 20s, in compile"},
		{"release-floods", nil, exitRelease, "bin/release printed more than paas reads (1048576 bytes)"},
	} {
		t.Run(tt.how, func(t *testing.T) {
			args := append([]string{"build", "-q", "-t", "kit-limits", "--builder", kit.Address, "-b", buildpackDir("hang")}, tt.args...)
			out, code := h.paas(t, append(args, misbehavingApp(t, h.user, tt.how))...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%.2000s", code, tt.code, out.stderr)
			}
			contains(t, "stderr", out.stderr, tt.message)
		})
	}
}

// Cloud Native Buildpacks need paas's own sandbox: on BuildKit, one fails
// detection saying so.
func TestBuildKitRefusesCNB(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := sharedHome(t, root)
	out, code := h.paas(t, "build", "-q", "-t", "kit-cnb", "--builder", kit.Address, "-b", buildpackDir("cnb-runtime"), appCopy(t, root, "hello"))
	if code != exitDetect {
		t.Fatalf("exit %d, want %d\n%s", code, exitDetect, out.stderr)
	}
	contains(t, "stderr", out.stderr, "runs only in paas's own sandbox, not on BuildKit")
}
