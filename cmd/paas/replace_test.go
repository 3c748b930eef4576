package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paashome "github.com/paas-dev/paas/home"
)

// A new build replaces the serving process under continuous requests
// without a failed request.
func TestRunZeroDowntimeReplace(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	h.mustBuild(t, "-t", "zdt", "-b", buildpackDir("hello"), app)
	s := startRun(t, h, append(runtimeArgs(t, "containerd"), "--check", "/", "--stop-timeout", "5s", "zdt")...)

	stop := make(chan struct{})
	var failures, v2 int
	var total int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(s.url + "/")
			total++
			if err != nil {
				failures++
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failures++
			}
			if strings.Contains(string(b), "greeting=v2") {
				v2++
				if v2 > 20 {
					return
				}
			}
		}
	}()
	h.mustBuild(t, "-t", "zdt", "-b", buildpackDir("hello"), "-e", "GREETING=v2", app)
	if out, code := h.paas(t, "run", "--replace", "zdt"); code != 0 {
		t.Fatalf("paas run --replace: %d\n%s", code, out.stderr)
	}
	s.waitFor("web.2 is ready", 60*time.Second)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
	}
	close(stop)
	<-done
	if failures != 0 || v2 == 0 {
		t.Errorf("%d of %d requests failed, %d answered by the new version\n%s", failures, total, v2, s.log())
	}
	s.waitFor("web.1 stopped", 60*time.Second)
}

// startRunAny is startRun waiting for another readiness line.
func startRunAny(t *testing.T, h *testHome, ready string, args ...string) *serving {
	t.Helper()
	port := freePort(t)
	s := &serving{t: t, url: "http://127.0.0.1:" + port, exited: make(chan struct{})}
	s.cmd = h.command(nil, append([]string{"run", "-p", port}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop() })
	s.waitFor(ready, 120*time.Second)
	return s
}

// A paas run killed with -9 leaves its lock file behind; --replace then
// finds no live holder and signals nothing, even though the recorded pid
// now belongs to another process.
func TestReplaceAfterKill(t *testing.T) {
	h := sharedHome(t, root)
	reused := exec.Command("sleep", "120")
	if err := reused.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reused.Process.Kill() })
	dir := filepath.Join(h.dir, "run", "serving")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, fmt.Sprintf("%s.%d.lock", paashome.Key("ghost:latest"), reused.Process.Pid))
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := h.paas(t, "run", "--replace", "ghost")
	if code != 32 {
		t.Errorf("paas run --replace: exit %d, want 32\n%s", code, out.stderr)
	}
	contains(t, "stderr", out.stderr, "no paas run is serving ghost:latest")
	exited := make(chan error, 1)
	go func() { exited <- reused.Wait() }()
	select {
	case err := <-exited:
		t.Errorf("the process that reused the pid was signalled: %v", err)
	case <-time.After(2 * time.Second):
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale lock %s kept: %v", stale, err)
	}
}
