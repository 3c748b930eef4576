package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/internal/testenv"
)

// The Procfile's release process runs once, from the image, before any
// process takes traffic; when it fails, a first start exits 33 with its
// output, and a replacement leaves the old version serving.
func TestRunReleasePhase(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root|testenv.Daemon)
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	procfile := func(release string) {
		t.Helper()
		body := "web: perl server.pl\nrelease: " + release + "\n"
		if err := os.WriteFile(filepath.Join(app, "Procfile"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procfile(`echo "migrating for $GREETING"; test "$FAIL_RELEASE" != yes`)
	h.mustBuild(t, "-t", "released", "-b", buildpackDir("hello"), app)
	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			args := append([]string{"run", "-p", freePort(t)}, runtimeArgs(t, rt)...)
			out, code := h.paas(t, append(args, "-e", "FAIL_RELEASE=yes", "released")...)
			if code != exitReleasePhase {
				t.Fatalf("exit %d with a failing release phase, want %d\n%s", code, exitReleasePhase, out.stderr)
			}
			contains(t, "stderr", out.stderr, "release.1 (")
			contains(t, "stderr", out.stderr, "exited with status 1; its last output:")
			contains(t, "stderr", out.stderr, "migrating for hello")
			if strings.Contains(out.stderr+out.stdout, "web.1") {
				t.Errorf("a web process started after the release phase failed:\n%s", out.stderr)
			}

			s := startRun(t, h, append(runtimeArgs(t, rt), "--check", "/", "released")...)
			log := s.log()
			release, ready := strings.Index(log, "release.1 | migrating for hello"), strings.Index(log, "web.1 is ready")
			if release < 0 || release > ready {
				t.Errorf("the release phase did not run before web.1 was ready:\n%s", log)
			}

			procfile("echo broken migration; exit 4")
			h.mustBuild(t, "-t", "released", "-b", buildpackDir("hello"), "-e", "GREETING=v2", app)
			t.Cleanup(func() { procfile(`echo "migrating for $GREETING"; test "$FAIL_RELEASE" != yes`) })
			if out, code := h.paas(t, "run", "--replace", "released"); code != 0 {
				t.Fatalf("paas run --replace: %d\n%s", code, out.stderr)
			}
			s.waitFor("not replacing:", 60*time.Second)
			contains(t, "log", s.log(), "release.1 | broken migration")
			if code, _, body := get(t, s.url+"/", nil); code != 200 || !strings.Contains(body, "greeting=hello") {
				t.Errorf("after the failed release phase GET = %d %q, want the old version", code, body)
			}
			if code := s.stop(); code != 0 {
				t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
			}
			procfile(`echo "migrating for $GREETING"; test "$FAIL_RELEASE" != yes`)
			h.mustBuild(t, "-t", "released", "-b", buildpackDir("hello"), app)
		})
	}
}
