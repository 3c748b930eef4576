package supervisor_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/runner"
)

// hangGuard only turns a deadlock into a failure with a message instead of
// the test binary's timeout; nothing is measured against it.
const hangGuard = 30 * time.Second

// event is one thing the fakes saw the supervisor do: "start 2" (the
// second process started), "switch 2" (traffic sent to it), "unavailable"
// (a 503 page put up), "stop 2" (the process stopped). The supervisor does
// one thing at a time, so the events come in a fixed order.
type event struct {
	what   string
	n      int
	detail string
}

func (e event) String() string {
	if e.n == 0 {
		return e.what
	}
	return fmt.Sprintf("%s %d", e.what, e.n)
}

type recorder struct{ ch chan event }

func newRecorder() *recorder { return &recorder{ch: make(chan event, 1000)} }

func (r *recorder) add(e event) { r.ch <- e }

// expect reads the next events and fails unless they are want, in order.
// It returns them, for their details.
func (r *recorder) expect(t *testing.T, want ...string) []event {
	t.Helper()
	var got []event
	for _, w := range want {
		select {
		case e := <-r.ch:
			got = append(got, e)
			if e.String() != w {
				t.Fatalf("events %v, want %v", got, want[:len(got)])
			}
		case <-time.After(hangGuard):
			t.Fatalf("events %v, then nothing; want %v", got, want)
		}
	}
	return got
}

// expectNoMore fails if anything happened that was not expected; call it
// once Serve has returned, when nothing more can happen.
func (r *recorder) expectNoMore(t *testing.T) {
	t.Helper()
	var extra []event
	for {
		select {
		case e := <-r.ch:
			extra = append(extra, e)
		default:
			if len(extra) > 0 {
				t.Errorf("unexpected events %v", extra)
			}
			return
		}
	}
}

// behaviour is what a fake process does once started.
type behaviour int

const (
	// healthy listens on $PORT and answers 200 "process N".
	healthy behaviour = iota
	// unhealthy listens on $PORT but answers 500, so HTTP checks fail.
	unhealthy
	// deaf never listens.
	deaf
	// dies exits with status 1 at once.
	dies
)

// fakeRuntime starts fake processes that act out plan: the nth process
// started does plan[n-1], healthy past its end.
type fakeRuntime struct {
	rec  *recorder
	plan []behaviour

	mu    sync.Mutex
	procs []*fakeProcess
}

func (r *fakeRuntime) Name() string { return "fake" }
func (r *fakeRuntime) Close() error { return nil }

func (r *fakeRuntime) Start(_ context.Context, spec runner.Spec) (runner.Process, error) {
	r.mu.Lock()
	n := len(r.procs) + 1
	b := healthy
	if n <= len(r.plan) {
		b = r.plan[n-1]
	}
	p := &fakeProcess{
		n: n, spec: spec, rec: r.rec, status: http.StatusOK,
		done: make(chan struct{}), held: make(chan struct{}), hold: make(chan struct{}),
	}
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	_, _ = fmt.Fprintf(spec.Stdout, "process %d booting\n", n)
	var err error
	switch b {
	case unhealthy:
		p.status = http.StatusInternalServerError
		err = p.listen()
	case healthy:
		err = p.listen()
	case dies:
		p.crash(1)
	}
	// Recorded last: a test that has seen it may act on the process.
	if err != nil {
		return nil, err
	}
	r.rec.add(event{what: "start", n: n})
	return p, nil
}

// proc returns the nth process started.
func (r *fakeRuntime) proc(t *testing.T, n int) *fakeProcess {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > len(r.procs) {
		t.Fatalf("process %d never started; %d did", n, len(r.procs))
	}
	return r.procs[n-1]
}

// byAddr returns the number of the process whose $PORT addr has; 0 if none.
func (r *fakeRuntime) byAddr(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.env("PORT") == port {
			return p.n
		}
	}
	return 0
}

// endAll ends every process still running, when a test is over.
func (r *fakeRuntime) endAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		p.end(runner.Exit{Code: 137, Signal: "SIGKILL"})
	}
}

// expectAllStopped fails unless every process started was stopped, as
// runner.Process requires even of those that exited by themselves.
func (r *fakeRuntime) expectAllStopped(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.stops() == 0 {
			t.Errorf("process %d was never stopped", p.n)
		}
	}
}

// fakeProcess is one process of a fakeRuntime. A healthy one serves HTTP
// on its $PORT: "/" answers at once, "/slow" closes held and waits until
// the test closes hold.
type fakeProcess struct {
	n      int
	spec   runner.Spec
	rec    *recorder
	status int
	srv    *http.Server
	held   chan struct{}
	hold   chan struct{}
	once   sync.Once
	done   chan struct{}

	mu      sync.Mutex
	exit    runner.Exit
	stopped int
	stopErr error
}

func (p *fakeProcess) ID() string            { return p.spec.ID }
func (p *fakeProcess) Done() <-chan struct{} { return p.done }

func (p *fakeProcess) Exit() runner.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Stop ends the process as SIGTERM would, if it is still running, unless
// failStop said it cannot be stopped.
func (p *fakeProcess) Stop(context.Context, time.Duration) error {
	p.mu.Lock()
	p.stopped++
	err := p.stopErr
	p.mu.Unlock()
	p.rec.add(event{what: "stop", n: p.n})
	if err != nil {
		return err
	}
	p.end(runner.Exit{Code: 143, Signal: "SIGTERM"})
	return nil
}

// failStop makes Stop fail with err and leave the process running.
func (p *fakeProcess) failStop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopErr = err
}

func (p *fakeProcess) stops() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// crash makes the process print a last line and exit by itself.
func (p *fakeProcess) crash(code int) {
	_, _ = fmt.Fprintf(p.spec.Stdout, "process %d: fatal error\n", p.n)
	p.end(runner.Exit{Code: code})
}

// end makes the process exit once, closing its port.
func (p *fakeProcess) end(e runner.Exit) {
	p.once.Do(func() {
		if p.srv != nil {
			_ = p.srv.Close()
		}
		p.mu.Lock()
		p.exit = e
		p.mu.Unlock()
		close(p.done)
	})
}

// exited reports whether the process has ended, without waiting.
func (p *fakeProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// env returns the value of name in the process's environment.
func (p *fakeProcess) env(name string) string {
	for _, kv := range p.spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// listen serves HTTP on the process's $PORT until the process ends.
func (p *fakeProcess) listen() error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", p.env("PORT")))
	if err != nil {
		return err
	}
	var heldOnce sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		heldOnce.Do(func() { close(p.held) })
		select {
		case <-p.hold:
		case <-r.Context().Done():
			return
		}
		_, _ = fmt.Fprintf(w, "process %d", p.n)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(p.status)
		_, _ = fmt.Fprintf(w, "process %d", p.n)
	})
	p.srv = &http.Server{Handler: mux}
	go func() { _ = p.srv.Serve(ln) }()
	return nil
}

// fakeRouter records what the supervisor routes where and, when px is
// set, passes it on to that real proxy.
type fakeRouter struct {
	rt  *fakeRuntime
	rec *recorder
	px  *proxy.Proxy

	mu   sync.Mutex
	addr string // where new requests go; "" while unavailable
}

// Switch and Unavailable record the event last: a test that has seen it
// may send requests, which must find the route in place.
func (r *fakeRouter) Switch(addr string) *proxy.Backend {
	var prev *proxy.Backend
	if r.px != nil {
		prev = r.px.Switch(addr)
	}
	r.mu.Lock()
	r.addr = addr
	r.mu.Unlock()
	r.rec.add(event{what: "switch", n: r.rt.byAddr(addr)})
	return prev
}

func (r *fakeRouter) Unavailable(reason string) *proxy.Backend {
	var prev *proxy.Backend
	if r.px != nil {
		prev = r.px.Unavailable(reason)
	}
	r.mu.Lock()
	r.addr = ""
	r.mu.Unlock()
	r.rec.add(event{what: "unavailable", detail: reason})
	return prev
}

// get fetches path from where the router sends requests now.
func (r *fakeRouter) get(t *testing.T, path string) string {
	t.Helper()
	r.mu.Lock()
	addr := r.addr
	r.mu.Unlock()
	if addr == "" {
		t.Fatal("the router sends requests nowhere")
	}
	return get(t, "http://"+addr+path)
}

// client never uses a proxy from the environment nor keeps connections.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches url and returns its body, failing unless it answers 200.
func get(t *testing.T, url string) string {
	t.Helper()
	body, err := fetch(url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func fetch(url string) (string, error) {
	res, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, res.Status, body)
	}
	return string(body), nil
}
