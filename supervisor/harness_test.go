package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/supervisor"
)

// harness is a supervisor over a fake runtime and router, with options a
// test may change before serve.
type harness struct {
	rec    *recorder
	rt     *fakeRuntime
	router *fakeRouter
	con    *console.Tail // the supervisor's own lines
	out    *console.Tail // the processes' output
	opts   supervisor.Options
}

func newHarness(t *testing.T, plan ...behaviour) *harness {
	rec := newRecorder()
	rt := &fakeRuntime{rec: rec, plan: plan}
	t.Cleanup(rt.endAll)
	h := &harness{rec: rec, rt: rt, router: &fakeRouter{rt: rt, rec: rec}, con: console.NewTail(1000), out: console.NewTail(1000)}
	h.opts = supervisor.Options{
		Runtime:     rt,
		Proxy:       h.router,
		AppName:     "hello",
		ImageName:   "hello:latest",
		Resolve:     func() (v1.Image, error) { return empty.Image, nil },
		Process:     "web",
		Env:         []string{"GREETING=hi"},
		Checks:      []health.Check{{Path: "/", Attempts: 1}},
		Restart:     supervisor.Restart{OnFailure: true},
		Backoff:     func(int) time.Duration { return 0 },
		StopTimeout: time.Minute,
		Console:     console.New(h.con, false),
		Output:      h.out,
	}
	return h
}

// said fails unless w, the console or the output, has a line holding text.
func said(t *testing.T, w *console.Tail, text string) {
	t.Helper()
	lines := w.Lines()
	for _, l := range lines {
		if strings.Contains(l, text) {
			return
		}
	}
	t.Errorf("no line says %q in:\n%s", text, strings.Join(lines, "\n"))
}

// serving is a running Serve.
type serving struct {
	cancel  context.CancelFunc
	replace chan struct{}
	result  chan error
}

func (h *harness) serve(t *testing.T) *serving {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &serving{cancel: cancel, replace: make(chan struct{}), result: make(chan error, 1)}
	sup := supervisor.New(h.opts)
	go func() { s.result <- sup.Serve(ctx, s.replace) }()
	return s
}

// replaceNow asks for a replacement; it returns once Serve has taken the
// request, so also once anything Serve was doing before is done.
func (s *serving) replaceNow(t *testing.T) {
	t.Helper()
	select {
	case s.replace <- struct{}{}:
	case err := <-s.result:
		t.Fatalf("Serve returned %v instead of replacing", err)
	case <-time.After(hangGuard):
		t.Fatal("Serve never took the replacement")
	}
}

// wait returns what Serve returned.
func (s *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.result:
		return err
	case <-time.After(hangGuard):
		t.Fatal("Serve never returned")
		return nil
	}
}

// stop ends Serve's context, as Ctrl-C does, and returns what Serve did.
func (s *serving) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	return s.wait(t)
}

// stopServing ends Serve, which must stop process n and nothing else and
// return nil.
func (h *harness) stopServing(t *testing.T, s *serving, n int) {
	t.Helper()
	if err := s.stop(t); err != nil {
		t.Fatalf("Serve() = %v after its context ended, want nil", err)
	}
	h.rec.expect(t, fmt.Sprintf("stop %d", n))
	h.rec.expectNoMore(t)
}

// failed fails unless err is of class and says each of texts.
func failed(t *testing.T, err, class error, texts ...string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("Serve() = %v, want %v", err, class)
	}
	for _, text := range texts {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("error %q lacks %q", err, text)
		}
	}
}
