package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paas-dev/paas/internal/testenv"
)

// load sends GETs to url from two clients until stopped (at most 20000),
// counting the requests and those that failed.
type load struct {
	stop          chan struct{}
	done          sync.WaitGroup
	mu            sync.Mutex
	total, failed int
	firstFailure  string
}

func startLoad(url string) *load {
	l := &load{stop: make(chan struct{})}
	for range 2 {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for range 10000 {
				select {
				case <-l.stop:
					return
				default:
				}
				failure := ""
				res, err := http.Get(url)
				if err != nil {
					failure = err.Error()
				} else {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						failure = res.Status
					}
				}
				l.mu.Lock()
				l.total++
				if failure != "" {
					l.failed++
					if l.firstFailure == "" {
						l.firstFailure = failure
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// end stops the load and fails the test if a request failed or none ran.
func (l *load) end(t *testing.T, during string) {
	t.Helper()
	close(l.stop)
	l.done.Wait()
	if l.failed != 0 || l.total == 0 {
		t.Errorf("%s: %d of %d requests failed (first: %s)", during, l.failed, l.total, l.firstFailure)
	}
}

var portLine = regexp.MustCompile(`port=(\d+)`)

// A formation of three web processes from app.json shares the traffic; one
// crashing loses no request, nor does replacing them all; a formation of
// only a worker runs no proxy. On both runtimes.
func TestRunFormation(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root|testenv.Daemon)
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(`{"formation": {"web": {"quantity": 3}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustBuild(t, "-t", "formation", "-b", buildpackDir("hello"), app)
	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			s := startRunAny(t, h, "Serving formation:latest (web=3)", append(runtimeArgs(t, rt), "--check", "/", "--stop-timeout", "5s", "formation")...)
			for _, name := range []string{"web.1", "web.2", "web.3"} {
				s.waitFor(name+" is ready", 60*time.Second)
			}
			ports := map[string]bool{}
			for range 30 {
				code, _, body := get(t, s.url+"/", nil)
				if m := portLine.FindStringSubmatch(body); code == 200 && m != nil {
					ports[m[1]] = true
				}
			}
			if len(ports) != 3 {
				t.Errorf("30 requests reached %d processes (ports %v), want 3", len(ports), ports)
			}

			l := startLoad(s.url + "/")
			if code, _, _ := get(t, s.url+"/crash", nil); code != 200 {
				t.Errorf("GET /crash = %d", code)
			}
			s.waitFor("exited with status 3; restart 1", 60*time.Second)
			s.waitForCount("receives traffic", 4, 60*time.Second)
			l.end(t, "one of three crashing")

			l = startLoad(s.url + "/")
			if out, code := h.paas(t, "run", "--replace", "formation"); code != 0 {
				t.Fatalf("paas run --replace: %d\n%s", code, out.stderr)
			}
			s.waitForCount("stopped (status", 3, 120*time.Second)
			l.end(t, "replacing all three")
			if code := s.stop(); code != 0 {
				t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
			}
			if rt == "containerd" {
				if left := containerdLeft(t, testenv.Containerd(t)); left != "" {
					t.Errorf("left in containerd: %s", left)
				}
			}

			w := startRunAny(t, h, "worker.1 | worker hello", append(runtimeArgs(t, rt), "--scale", "web=0,worker=1", "formation")...)
			contains(t, "log", w.log(), "Running formation:latest (worker=1); no web process, so no proxy")
			if res, err := http.Get(w.url + "/"); err == nil {
				res.Body.Close()
				t.Errorf("a worker-only formation answered on the proxy's port: %s", res.Status)
			}
		})
	}
}

// waitForCount polls the output until text occurs n times (bounded).
func (s *serving) waitForCount(text string, n int, limit time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(s.log(), text) < n {
		select {
		case <-s.exited:
			s.t.Fatalf("paas run exited (%v) before %q appeared %d times:\n%s", s.cmd.ProcessState, text, n, s.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%q appeared fewer than %d times within %s:\n%s", text, n, limit, s.log())
		}
	}
}
