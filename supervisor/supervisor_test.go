package supervisor_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/supervisor"
)

// A web process is started on a free port with the type's environment,
// gets traffic once its checks pass, and is stopped when serving ends.
func TestServeRoutesToReadyProcess(t *testing.T) {
	h := newHarness(t)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	h.opts.Resolve = func() (v1.Image, error) { return img, nil }
	s := h.serve(t)
	h.rec.expect(t, "start 1", "switch 1")
	if got := h.router.get(t, "/"); got != "process 1" {
		t.Errorf("the router's backend answered %q, want process 1", got)
	}
	p := h.rt.proc(t, 1)
	if !slices.Equal(p.spec.Args, []string{"web"}) || p.spec.Image != img || p.spec.ImageName != "hello:latest" {
		t.Errorf("started %v of %v (%q), want [web] of the resolved image (hello:latest)", p.spec.Args, p.spec.Image, p.spec.ImageName)
	}
	if !strings.HasPrefix(p.spec.ID, "hello-web-1-") {
		t.Errorf("process id %q, want hello-web-1-…", p.spec.ID)
	}
	for _, kv := range []string{"HOST=127.0.0.1", "PAAS_PROCESS_TYPE=web", "GREETING=hi"} {
		if !slices.Contains(p.spec.Env, kv) {
			t.Errorf("environment %q lacks %s", p.spec.Env, kv)
		}
	}
	h.stopServing(t, s, 1)
	said(t, h.out, "web.1 | process 1 booting")
	said(t, h.con, "web.1 stopped (status 143)")
}

// A first process that never passes its checks is stopped, never gets
// traffic, and Serve fails with ErrNotReady and its last output.
func TestServeNotReady(t *testing.T) {
	tests := []struct {
		name string
		does behaviour
		want string
	}{
		{"check fails", unhealthy, "500"},
		{"never listens", deaf, health.ErrNotListening.Error()},
		{"exits", dies, "process 1: fatal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.does)
			h.opts.ListenTimeout = 100 * time.Millisecond
			s := h.serve(t)
			failed(t, s.wait(t), supervisor.ErrNotReady, "web.1", "process 1 booting", tt.want)
			h.rec.expect(t, "start 1", "stop 1")
			h.rec.expectNoMore(t)
		})
	}
}

// A crashed web process is replaced by a new one under the restart
// policy, with a 503 page meanwhile; past Restart.Max, Serve fails with
// ErrCrashLoop and the last output.
func TestServeRestartsCrashedProcess(t *testing.T) {
	h := newHarness(t)
	h.opts.Restart = supervisor.Restart{OnFailure: true, Max: 2}
	var backoffs []int
	h.opts.Backoff = func(n int) time.Duration {
		backoffs = append(backoffs, n)
		return 0
	}
	s := h.serve(t)
	h.rec.expect(t, "start 1", "switch 1")
	for n := 1; n <= 2; n++ {
		h.rt.proc(t, n).crash(n)
		events := h.rec.expect(t, "unavailable", fmt.Sprintf("stop %d", n), fmt.Sprintf("start %d", n+1), fmt.Sprintf("switch %d", n+1))
		if want := fmt.Sprintf("web.%d exited with status %d and is restarting", n, n); events[0].detail != want {
			t.Errorf("503 reason %q, want %q", events[0].detail, want)
		}
		if got, want := h.router.get(t, "/"), fmt.Sprintf("process %d", n+1); got != want {
			t.Errorf("after restart %d the router's backend answered %q, want %q", n, got, want)
		}
	}
	h.rt.proc(t, 3).crash(3)
	h.rec.expect(t, "unavailable", "stop 3")
	failed(t, s.wait(t), supervisor.ErrCrashLoop, "web.3 exited with status 3 after 2 restarts", "process 3: fatal error")
	if !slices.Equal(backoffs, []int{1, 2}) {
		t.Errorf("Backoff called for restarts %v, want [1 2]", backoffs)
	}
	h.rec.expectNoMore(t)
	h.rt.expectAllStopped(t)
}

// Without the on-failure policy, or when the process exits cleanly,
// nothing is restarted.
func TestServeCrashWithoutRestart(t *testing.T) {
	tests := []struct {
		name    string
		restart supervisor.Restart
		code    int
	}{
		{"no policy", supervisor.Restart{}, 1},
		{"clean exit", supervisor.Restart{OnFailure: true, Max: 5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.opts.Restart = tt.restart
			h.opts.Backoff = func(n int) time.Duration {
				t.Errorf("Backoff(%d) called: nothing should restart", n)
				return 0
			}
			s := h.serve(t)
			h.rec.expect(t, "start 1", "switch 1")
			h.rt.proc(t, 1).crash(tt.code)
			h.rec.expect(t, "unavailable", "stop 1")
			failed(t, s.wait(t), supervisor.ErrCrashLoop, fmt.Sprintf("web.1 exited with status %d", tt.code))
			h.rec.expectNoMore(t)
		})
	}
}

// A restarted process that fails its checks ends serving with ErrNotReady.
func TestServeRestartNotReady(t *testing.T) {
	h := newHarness(t, healthy, unhealthy)
	s := h.serve(t)
	h.rec.expect(t, "start 1", "switch 1")
	h.rt.proc(t, 1).crash(1)
	h.rec.expect(t, "unavailable", "stop 1", "start 2", "stop 2")
	failed(t, s.wait(t), supervisor.ErrNotReady, "web.2")
	h.rec.expectNoMore(t)
}

// Other process types are neither checked nor routed to: they need no
// router, run without listening, and are restarted and replaced all the
// same.
func TestServeWorker(t *testing.T) {
	h := newHarness(t, deaf, deaf, deaf)
	h.opts.Process = "worker"
	h.opts.Proxy = nil
	s := h.serve(t)
	h.rec.expect(t, "start 1")
	p := h.rt.proc(t, 1)
	if !slices.Equal(p.spec.Args, []string{"worker"}) || !slices.Contains(p.spec.Env, "PAAS_PROCESS_TYPE=worker") {
		t.Errorf("started %v with %q, want the worker type", p.spec.Args, p.spec.Env)
	}
	p.crash(1)
	h.rec.expect(t, "stop 1", "start 2")
	s.replaceNow(t)
	h.rec.expect(t, "start 3", "stop 2")
	h.stopServing(t, s, 3)
	said(t, h.con, "worker.3 is running")
}

// A replacement gets traffic before the old process is stopped, and the
// old one is stopped only once the requests it is answering are done: no
// request is dropped. The replacement runs the image as Resolve gives it
// now.
func TestReplaceZeroDowntime(t *testing.T) {
	h := newHarness(t)
	h.router.px = proxy.New(proxy.Options{})
	front := httptest.NewServer(h.router.px)
	defer front.Close()
	var resolved []v1.Image
	h.opts.Resolve = func() (v1.Image, error) {
		img, err := random.Image(64, 1)
		resolved = append(resolved, img)
		return img, err
	}
	s := h.serve(t)
	h.rec.expect(t, "start 1", "switch 1")
	old := h.rt.proc(t, 1)
	slow := make(chan string, 1)
	go func() {
		body, err := fetch(front.URL + "/slow")
		if err != nil {
			body = err.Error()
		}
		slow <- body
	}()
	select {
	case <-old.held:
	case <-time.After(hangGuard):
		t.Fatal("the slow request never reached process 1")
	}
	s.replaceNow(t)
	h.rec.expect(t, "start 2", "switch 2")
	if got := get(t, front.URL+"/"); got != "process 2" {
		t.Errorf("a new request went to %q, want process 2", got)
	}
	if old.exited() {
		t.Fatal("process 1 was stopped with a request in flight")
	}
	close(old.hold)
	if got := <-slow; got != "process 1" {
		t.Errorf("the request in flight during the replacement got %q, want process 1's answer", got)
	}
	h.rec.expect(t, "stop 1")
	h.stopServing(t, s, 2)
	if len(resolved) != 2 || h.rt.proc(t, 2).spec.Image != resolved[1] {
		t.Errorf("the replacement did not run the image Resolve gave for it (%d resolved)", len(resolved))
	}
}

// A replacement that cannot start or fails its checks is stopped, and the
// old process keeps serving, until a later replacement succeeds.
func TestReplaceFailureKeepsOld(t *testing.T) {
	tests := []struct {
		name     string
		plan     []behaviour
		failing  []string // events of the failed replacement
		resolves bool     // whether Resolve works for the failed replacement
		next     int      // the process that replaces process 1 at last
	}{
		{"check fails", []behaviour{healthy, unhealthy}, []string{"start 2", "stop 2"}, true, 3},
		{"image gone", nil, nil, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.plan...)
			calls := 0
			h.opts.Resolve = func() (v1.Image, error) {
				calls++
				if calls == 2 && !tt.resolves {
					return nil, errors.New("no image hello:latest")
				}
				return empty.Image, nil
			}
			s := h.serve(t)
			h.rec.expect(t, "start 1", "switch 1")
			s.replaceNow(t)
			h.rec.expect(t, tt.failing...)
			if got := h.router.get(t, "/"); got != "process 1" {
				t.Errorf("after the failed replacement the router's backend answered %q, want process 1", got)
			}
			s.replaceNow(t)
			h.rec.expect(t, fmt.Sprintf("start %d", tt.next), fmt.Sprintf("switch %d", tt.next), "stop 1")
			h.stopServing(t, s, tt.next)
			said(t, h.con, "replacement failed, web.1 keeps serving")
		})
	}
}

// Serving ends when its context does, also while a restart waits out its
// backoff; a process that cannot be stopped is an error.
func TestServeStop(t *testing.T) {
	t.Run("waiting to restart", func(t *testing.T) {
		h := newHarness(t)
		backingOff := make(chan struct{})
		h.opts.Backoff = func(int) time.Duration {
			close(backingOff)
			return time.Hour
		}
		s := h.serve(t)
		h.rec.expect(t, "start 1", "switch 1")
		h.rt.proc(t, 1).crash(1)
		h.rec.expect(t, "unavailable", "stop 1")
		select {
		case <-backingOff:
		case <-time.After(hangGuard):
			t.Fatal("no restart was planned")
		}
		// Stopping again is harmless: Stop is idempotent.
		h.stopServing(t, s, 1)
	})
	t.Run("stop fails", func(t *testing.T) {
		h := newHarness(t)
		s := h.serve(t)
		h.rec.expect(t, "start 1", "switch 1")
		boom := errors.New("task not found")
		h.rt.proc(t, 1).failStop(boom)
		failed(t, s.stop(t), boom, "stopping web.1")
		h.rec.expect(t, "stop 1")
		h.rec.expectNoMore(t)
	})
}

// A supervisor of process 2 of 3 names its processes web.2, web.5, … so
// that a formation's names never clash, and reports each replacement's
// result on Replaced.
func TestFormationNamesAndReplaced(t *testing.T) {
	h := newHarness(t, healthy, unhealthy)
	replaced := make(chan error, 1)
	h.opts.Index, h.opts.Count, h.opts.Replaced = 2, 3, replaced
	s := h.serve(t)
	h.rec.expect(t, "start 1", "switch 1")
	said(t, h.con, "web.2 is ready")
	s.replaceNow(t)
	h.rec.expect(t, "start 2", "stop 2")
	if err := <-replaced; !errors.Is(err, supervisor.ErrNotReady) || !strings.Contains(err.Error(), "replacing web.2") {
		t.Errorf("Replaced got %v, want ErrNotReady naming web.2", err)
	}
	s.replaceNow(t)
	h.rec.expect(t, "start 3", "switch 3", "stop 1")
	if err := <-replaced; err != nil {
		t.Errorf("Replaced got %v after a replacement that worked, want nil", err)
	}
	said(t, h.con, "web.8 is ready on")
	h.stopServing(t, s, 3)
}
