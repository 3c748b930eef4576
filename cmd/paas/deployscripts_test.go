package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/internal/testenv"
)

// app.json's predeploy runs first and what it changes in /app is kept in
// the image deployed (which the name then gives); the release phase and
// the processes see it; postdeploy runs once they serve. On both runtimes.
func TestRunDeployScripts(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root|testenv.Daemon)
	h := sharedHome(t, root)
	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			app := appCopy(t, root, "hello")
			files := map[string]string{
				"app.json": `{"scripts": {"dokku": {
					"predeploy": "echo predeploy ran > /app/predeployed.txt && rm /app/about.txt && echo predeploy done",
					"postdeploy": "echo postdeploy sees $(cat /app/predeployed.txt)"}}}`,
				"Procfile": "web: perl server.pl\nrelease: echo release sees $(cat predeployed.txt)\n",
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tag := "scripts-" + rt
			built := h.mustBuild(t, "-t", tag, "-b", buildpackDir("hello"), app)
			s := startRun(t, h, append(runtimeArgs(t, rt), "--check", "/", tag)...)
			s.waitFor("postdeploy | postdeploy sees predeploy ran", 60*time.Second)
			log := s.log()
			order := []string{"predeploy | predeploy done", "release.1 | release sees predeploy ran", "web.1 is ready", "postdeploy | postdeploy sees predeploy ran"}
			last := -1
			for _, step := range order {
				i := strings.Index(log, step)
				if i < last {
					t.Errorf("%q is not after the steps before it %q:\n%s", step, order, log)
				}
				last = i
			}
			if code := s.stop(); code != 0 {
				t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
			}

			// The name gives the image predeploy made; running it does not
			// run predeploy again.
			out, code := h.paas(t, append(append([]string{"run"}, runtimeArgs(t, rt)...), tag, "--", "sh", "-c", "cat /app/predeployed.txt; ls /app/about.txt")...)
			if code == 0 || !strings.Contains(out.stdout, "predeploy ran") {
				t.Errorf("one-off on the deployed image: exit %d, stdout %q; want predeployed.txt and no about.txt\n%s", code, out.stdout, out.stderr)
			}
			if d, _ := storedImage(t, h, tag).Digest(); d.String() == built.Digest {
				t.Errorf("%s still names the built image %s, want the one predeploy made", tag, built.Digest)
			}
			again := startRun(t, h, append(runtimeArgs(t, rt), "--check", "/", tag)...)
			again.waitFor("postdeploy | postdeploy sees predeploy ran", 60*time.Second)
			contains(t, "log", again.log(), "predeploy ran already for this image")
		})
	}
}

// Stopped while postdeploy still runs, paas run stops that one-off too and
// leaves nothing in containerd.
func TestRunStopDuringPostdeploy(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root|testenv.Daemon)
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(`{"scripts": {"dokku": {"postdeploy": "echo postdeploy started; sleep 120"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBuild(t, "-t", "slow-postdeploy", "-b", buildpackDir("hello"), app)
	s := startRun(t, h, append(runtimeArgs(t, "containerd"), "--check", "/", "slow-postdeploy")...)
	s.waitFor("postdeploy | postdeploy started", 60*time.Second)
	if code := s.stop(); code != 0 {
		t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
	}
	if left := containerdLeft(t, testenv.Containerd(t)); left != "" {
		t.Errorf("left in containerd: %s\n%s", left, s.log())
	}
}
