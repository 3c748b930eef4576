package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An ordinary user runs the image on the sandbox runtime, no daemon, no
// root.
func TestRunRootless(t *testing.T) {
	u := unprivileged(t)
	h := sharedHome(t, u)
	h.mustBuild(t, "-t", "rootless-web", "-b", buildpackDir("hello"), appCopy(t, u, "hello"))
	s := startRun(t, h, "--runtime", "auto", "--containerd-address", "/nonexistent.sock", "--check", "/", "rootless-web")
	contains(t, "log", s.log(), "using the sandbox runtime")
	code, _, body := get(t, s.url+"/", nil)
	if code != 200 || !strings.Contains(body, "greeting=hello") {
		t.Errorf("GET = %d %q", code, body)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
	}
	procs, _ := filepath.Glob(filepath.Join(h.dir, "run", "proc", "*"))
	if len(procs) != 0 {
		t.Errorf("left behind: %v", procs)
	}
}

// The image's app.json healthchecks decide readiness when --check is not
// given.
func TestRunAppJSONHealthchecks(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	appJSON := `{"healthchecks": {"web": [{"type": "startup", "name": "greets", "path": "/health", "content": "Hello from paas", "attempts": 5, "wait": 1}]}}`
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(appJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBuild(t, "-t", "appjson", "-b", buildpackDir("hello"), app)
	s := startRun(t, h, append(runtimeArgs(t, "sandbox"), "appjson")...)
	contains(t, "log", s.log(), `startup check "greets" passed`)
	if code, _, _ := get(t, s.url+"/", nil); code != 200 {
		t.Errorf("GET = %d", code)
	}

	bad := appCopy(t, root, "hello")
	appJSON = `{"healthchecks": {"web": [{"path": "/", "content": "never there", "attempts": 2, "wait": 1, "timeout": 1}]}}`
	os.WriteFile(filepath.Join(bad, "app.json"), []byte(appJSON), 0o644)
	h.mustBuild(t, "-t", "appjson-bad", "-b", buildpackDir("hello"), bad)
	out, code := h.paas(t, append(append([]string{"run", "-p", freePort(t)}, runtimeArgs(t, "sandbox")...), "--stop-timeout", "2s", "appjson-bad")...)
	if code != exitNotReady {
		t.Fatalf("exit = %d, want %d\n%s", code, exitNotReady, out.stderr)
	}
	contains(t, "stderr", out.stderr, `did not contain "never there"`)
}

// --stack takes a stack straight from an OCI layout.
func TestBuildStackFromLayout(t *testing.T) {
	h := sharedHome(t, root)
	layout := filepath.Join(t.TempDir(), "stacks")
	out, code := h.paas(t, "inspect", "--json", "hello-nonexistent")
	if code != exitNotFound {
		t.Fatalf("inspect of a missing image: exit %d\n%s", code, out.stderr)
	}
	r := h.mustBuild(t, "-t", "from-store", "-b", buildpackDir("hello"), "-o", "oci:"+layout, appCopy(t, root, "hello"))
	// The image just written is a valid stack too: build on top of it.
	r2 := h.mustBuild(t, "-t", "from-layout", "--stack", "oci:"+layout+":from-store:latest", "-b", buildpackDir("cache-env"), appCopy(t, root, "hello"))
	if r2.Stack.Digest == r.Stack.Digest {
		t.Errorf("stack digest = the store stack's; want the layout image's")
	}
}

// BenchmarkRunFirstResponse measures the time from `paas run` to the first
// 200 through the proxy, on the sandbox runtime.
func BenchmarkRunFirstResponse(b *testing.B) {
	h := sharedHome(b, root)
	h.mustBuild(b, "-t", "bench", "-b", buildpackDir("hello"), appCopy(b, root, "hello"))
	for i := 0; i < b.N; i++ {
		port := freePort(b)
		cmd := h.command(nil, "run", "-p", port, "--runtime", "sandbox", "--check", "/", "bench")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > time.Minute {
				b.Fatal("no 200 within a minute")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-first-200")
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}
