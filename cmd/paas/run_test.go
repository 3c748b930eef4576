package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/paas-dev/paas/internal/testenv"
)

// serving is a `paas run` in the background.
type serving struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	output strings.Builder
	exited chan struct{}
}

func (s *serving) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.Write(p)
}

func (s *serving) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// startRun starts `paas run` and waits until it says it serves traffic.
func startRun(t *testing.T, h *testHome, args ...string) *serving {
	t.Helper()
	return startRunEnv(t, h, nil, args...)
}

// startRunEnv is startRun with env added to paas's environment.
func startRunEnv(t *testing.T, h *testHome, env []string, args ...string) *serving {
	t.Helper()
	port := freePort(t)
	s := &serving{t: t, url: "http://127.0.0.1:" + port, exited: make(chan struct{})}
	s.cmd = h.command(env, append([]string{"run", "-p", port}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop() })
	s.waitFor("receives traffic", 120*time.Second)
	return s
}

// waitFor polls the output for text (bounded), failing if paas exits.
func (s *serving) waitFor(text string, limit time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(s.log(), text) {
		select {
		case <-s.exited:
			s.t.Fatalf("paas run exited (%v) before %q:\n%s", s.cmd.ProcessState, text, s.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q within %s:\n%s", text, limit, s.log())
		}
	}
}

// stop sends SIGINT, as Ctrl-C does, and waits for paas to exit.
func (s *serving) stop() int {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(90 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			s.t.Errorf("paas run did not stop on SIGINT:\n%s", s.log())
		}
	}
	return s.cmd.ProcessState.ExitCode()
}

func get(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// containerdLeft lists what containerd still holds in paas's namespace.
func containerdLeft(t *testing.T, address string) string {
	t.Helper()
	c, err := client.New(address)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), "paas-e2e")
	var left []string
	cs, err := c.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		left = append(left, "container "+ct.ID())
	}
	tasks, err := c.TaskService().List(ctx, nil)
	if err == nil {
		for _, tk := range tasks.Tasks {
			left = append(left, "task "+tk.ID)
		}
	}
	err = c.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if strings.Contains(info.Name, "-snapshot") {
			left = append(left, "snapshot "+info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(left, ", ")
}

func runtimeArgs(t *testing.T, runtime string) []string {
	if runtime == "containerd" {
		return []string{"--runtime", "containerd", "--containerd-address", testenv.Containerd(t), "--namespace", "paas-e2e"}
	}
	return []string{"--runtime", "sandbox"}
}

// paas run serves the app through the proxy on containerd and on the
// sandbox runtime, and Ctrl-C leaves nothing behind.
func TestRunServes(t *testing.T) {
	h := sharedHome(t, root)
	h.mustBuild(t, "-t", "web", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			s := startRun(t, h, append(runtimeArgs(t, rt), "--check", "/", "web")...)
			code, hdr, body := get(t, s.url+"/hello", http.Header{"X-Request-Id": {"abcdefghijklmnopqrstuvwxyz"}})
			if code != 200 {
				t.Fatalf("GET = %d %s", code, body)
			}
			contains(t, "body", body, "Hello from paas")
			contains(t, "body", body, "greeting=hello")
			contains(t, "body", body, "path=/hello")
			contains(t, "body", body, "x-forwarded-for=127.0.0.1")
			contains(t, "body", body, "x-forwarded-proto=http")
			contains(t, "body", body, "x-request-id=abcdefghijklmnopqrstuvwxyz")
			contains(t, "body", body, "x-request-start=t=")
			if hdr.Get("X-Request-Id") != "abcdefghijklmnopqrstuvwxyz" {
				t.Errorf("response X-Request-Id = %q", hdr.Get("X-Request-Id"))
			}
			contains(t, "log", s.log(), "web.1 | hello app listening")
			if code := s.stop(); code != 0 {
				t.Errorf("paas run exit = %d after SIGINT\n%s", code, s.log())
			}
			contains(t, "log", s.log(), "hello app stopping")
			if rt == "containerd" {
				if left := containerdLeft(t, testenv.Containerd(t)); left != "" {
					t.Errorf("left in containerd: %s", left)
				}
			}
		})
	}
}

// A web process that crashes is restarted; the proxy answers 503 meanwhile.
func TestRunRestartsCrashedProcess(t *testing.T) {
	h := sharedHome(t, root)
	h.mustBuild(t, "-t", "crashy", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	s := startRun(t, h, append(runtimeArgs(t, "containerd"), "--check", "/", "crashy")...)
	if code, _, _ := get(t, s.url+"/crash", nil); code != 200 {
		t.Fatalf("GET /crash = %d", code)
	}
	s.waitFor("web.2 is ready", 60*time.Second)
	if code, _, body := get(t, s.url+"/", nil); code != 200 || !strings.Contains(body, "Hello from paas") {
		t.Errorf("after restart GET = %d %q", code, body)
	}
	contains(t, "log", s.log(), "exited with status 3; restart 1")
}

// A process that never listens fails the run with its last output, and
// nothing is left running.
func TestRunNeverReady(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: echo never listening; sleep 1000\n"), 0o644)
	h.mustBuild(t, "-t", "deaf", "-b", buildpackDir("hello"), app)
	addr := testenv.Containerd(t)
	out, code := h.paas(t, "run", "-p", freePort(t), "--runtime", "containerd", "--containerd-address", addr,
		"--namespace", "paas-e2e", "--listen-timeout", "3s", "--stop-timeout", "2s", "deaf")
	if code != exitNotReady {
		t.Fatalf("exit = %d, want %d\n%s", code, exitNotReady, out.stderr)
	}
	contains(t, "stderr", out.stderr, "never accepted connections")
	contains(t, "stderr", out.stderr, "never listening")
	if left := containerdLeft(t, addr); left != "" {
		t.Errorf("left in containerd: %s", left)
	}
}

// One-off commands get the image's environment and .profile.d; --process
// runs another type.
func TestRunOneOffAndWorker(t *testing.T) {
	h := sharedHome(t, root)
	h.mustBuild(t, "-t", "oneoff", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			out, code := h.paas(t, append(append([]string{"run"}, runtimeArgs(t, rt)...), "oneoff", "--", "sh", "-c", "env; exit 7")...)
			if code != 7 {
				t.Fatalf("exit = %d, want the command's 7\n%s", code, out.stderr)
			}
			for _, want := range []string{"GREETING=hello", "HELLO_RELEASED=yes", "HOME=/app", "PORT=5000"} {
				contains(t, "env", out.stdout, want)
			}
			s := startRunAny(t, h, "is running", append(runtimeArgs(t, rt), "--process", "worker", "oneoff")...)
			s.waitFor("worker.1 | worker hello", 60*time.Second)
		})
	}
}

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

// The writer app writes into its own directory under /app when it starts
// and serves what it wrote with the owners it sees. /app belongs to the
// run user 1000:1000 on containerd and on the sandbox runtime, as root and
// as an ordinary user with subordinate ids; an ordinary user without them
// (no newuidmap in PATH) gets a note and the app runs as root inside the
// sandbox, which owns /app.
func TestRunAppWritesItsDirectory(t *testing.T) {
	asRoot := func(*testing.T) user { return root }
	tests := []struct {
		name    string
		user    func(*testing.T) user
		runtime string
		env     []string
		uid     int  // the app's uid and the owner of what it sees
		note    bool // paas says the app runs as root inside
	}{
		{"root/containerd", asRoot, "containerd", nil, 1000, false},
		{"root/sandbox", asRoot, "sandbox", nil, 1000, false},
		{"rootless/sandbox", unprivileged, "sandbox", nil, 1000, false},
		{"rootless-without-subids/sandbox", unprivileged, "sandbox", []string{"PATH=/nonexistent"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user(t)
			h := sharedHome(t, u)
			h.mustBuild(t, "-t", "writer", appCopy(t, u, "writer"))
			s := startRunEnv(t, h, tt.env, append(runtimeArgs(t, tt.runtime), "--check", "/", "writer")...)
			code, _, body := get(t, s.url+"/", nil)
			want := fmt.Sprintf("written at start by uid %[1]d\n/app owned by %[1]d:%[1]d\n"+
				"/app/data owned by %[1]d:%[1]d\n/app/data/started.txt owned by %[1]d:%[1]d\n", tt.uid)
			if code != 200 || body != want {
				t.Errorf("GET = %d %q, want 200 %q\n%s", code, body, want, s.log())
			}
			if got := strings.Contains(s.log(), "running it as root inside the sandbox"); got != tt.note {
				t.Errorf("log mentions running as root: %v, want %v\n%s", got, tt.note, s.log())
			}
			if code := s.stop(); code != 0 {
				t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
			}
		})
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
