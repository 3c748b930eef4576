package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/internal/testenv"
)

// paas run -d keeps serving after the shell that started it exits; paas ps
// lists it, paas logs shows its output, and paas stop ends it with nothing
// left in containerd. A detached run that fails says why, with its status.
func TestRunDetached(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root|testenv.Daemon)
	h := sharedHome(t, root)
	r := h.mustBuild(t, "-t", "bg", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	port, addr := freePort(t), testenv.Containerd(t)
	script := paasBin + " run -d -p " + port + " --runtime containerd --containerd-address " + addr +
		" --namespace paas-e2e --check / bg; echo the shell exits"
	sh := h.command(nil)
	sh.Path, sh.Args = "/bin/sh", []string{"sh", "-c", script}
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("sh -c paas run -d: %v\n%s", err, out)
	}
	t.Cleanup(func() { h.paas(t, "stop", "bg") })
	contains(t, "output", string(out), "Serving bg in the background (pid ")
	contains(t, "output", string(out), "the shell exits")

	code, _, body := get(t, "http://127.0.0.1:"+port+"/", nil)
	if code != 200 || !strings.Contains(body, "greeting=hello") {
		t.Errorf("GET after the shell exited = %d %q", code, body)
	}
	psOut, code2 := h.paas(t, "ps", "--json")
	var list []deploy.Status
	if err := json.Unmarshal([]byte(psOut.stdout), &list); code2 != 0 || err != nil || len(list) != 1 {
		t.Fatalf("paas ps --json: %d %v %q", code2, err, psOut.stdout)
	}
	if s := list[0]; s.Name != "bg:latest" || s.Digest != r.Digest || s.Formation.String() != "web=1" ||
		s.Runtime != "containerd" || !strings.HasSuffix(s.URL, ":"+port) || s.Pid == 0 || s.Log == "" {
		t.Errorf("paas ps --json = %+v", s)
	}
	if table, _ := h.paas(t, "ps"); !strings.Contains(table.stdout, "bg:latest") || !strings.Contains(table.stdout, "web=1") {
		t.Errorf("paas ps:\n%s", table.stdout)
	}
	logs, _ := h.paas(t, "logs", "bg")
	contains(t, "paas logs", logs.stdout, "web.1 | hello app listening")

	// paas logs -f follows the log until the run stops.
	follow := h.command(nil, "logs", "-f", "bg")
	var followed strings.Builder
	follow.Stdout = &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	stopped, code3 := h.paas(t, "stop", "bg")
	if code3 != 0 {
		t.Fatalf("paas stop: %d\n%s", code3, stopped.stderr)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(followed.String(), "hello app stopping") {
			t.Errorf("paas logs -f: %v, output lacks the run's last lines:\n%s", err, followed.String())
		}
	case <-time.After(30 * time.Second):
		follow.Process.Kill()
		t.Errorf("paas logs -f went on after the run stopped")
	}
	if again, _ := h.paas(t, "ps", "--json"); strings.TrimSpace(again.stdout) != "[]" {
		t.Errorf("paas ps after paas stop = %q", again.stdout)
	}
	if res, err := http.Get("http://127.0.0.1:" + port + "/"); err == nil {
		res.Body.Close()
		t.Errorf("still answering after paas stop: %s", res.Status)
	}
	if left := containerdLeft(t, addr); left != "" {
		t.Errorf("left in containerd: %s", left)
	}
	logs, _ = h.paas(t, "logs", "bg")
	contains(t, "paas logs after stop", logs.stdout, "hello app stopping")
	if _, code := h.paas(t, "stop", "bg"); code != exitRuntime {
		t.Errorf("paas stop with nothing serving: exit %d, want %d", code, exitRuntime)
	}

	failed, code4 := h.paas(t, "run", "-d", "-p", freePort(t), "nope")
	if code4 != exitNotFound || !strings.Contains(failed.stderr, "exited with status 6 before serving") {
		t.Errorf("paas run -d of a missing image: exit %d, want %d with the child's status\n%s", code4, exitNotFound, failed.stderr)
	}
}

// An ordinary user detaches a run on the sandbox runtime, lists it and
// stops it: no root, no daemon.
func TestRunDetachedRootless(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root)
	u := unprivileged(t)
	h := sharedHome(t, u)
	h.mustBuild(t, "-t", "bg-rootless", "-b", buildpackDir("hello"), appCopy(t, u, "hello"))
	port := freePort(t)
	out, code := h.paas(t, "run", "-d", "-p", port, "--runtime", "sandbox", "--check", "/", "bg-rootless")
	if code != 0 {
		t.Fatalf("paas run -d as %s: exit %d\n%s", u.name, code, out.stderr)
	}
	t.Cleanup(func() { h.paas(t, "stop", "bg-rootless") })
	if code, _, body := get(t, "http://127.0.0.1:"+port+"/", nil); code != 200 || !strings.Contains(body, "greeting=hello") {
		t.Errorf("GET = %d %q", code, body)
	}
	if ps, _ := h.paas(t, "ps"); !strings.Contains(ps.stdout, "bg-rootless:latest") || !strings.Contains(ps.stdout, "sandbox") {
		t.Errorf("paas ps:\n%s", ps.stdout)
	}
	if stopped, code := h.paas(t, "stop", "bg-rootless"); code != 0 {
		t.Fatalf("paas stop: %d\n%s", code, stopped.stderr)
	}
	if ps, _ := h.paas(t, "ps", "--json"); strings.TrimSpace(ps.stdout) != "[]" {
		t.Errorf("paas ps after stop = %q", ps.stdout)
	}
}
