package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
)

func TestSwitchReturnsPrevious(t *testing.T) {
	p := proxy.New(proxy.Options{})
	if prev := p.Switch("127.0.0.1:1001"); prev != nil {
		t.Errorf("first Switch() = %v, want nil", prev.Addr())
	}
	if prev := p.Switch("127.0.0.1:1002"); prev.Addr() != "127.0.0.1:1001" {
		t.Errorf("Switch() = %q, want 127.0.0.1:1001", prev.Addr())
	}
	if got := p.Backend().Addr(); got != "127.0.0.1:1002" {
		t.Errorf("Backend() = %q, want 127.0.0.1:1002", got)
	}
	if prev := p.Unavailable("stopped"); prev.Addr() != "127.0.0.1:1002" {
		t.Errorf("Unavailable() = %q, want 127.0.0.1:1002", prev.Addr())
	}
	if b := p.Backend(); b != nil {
		t.Errorf("Backend() after Unavailable = %q, want nil", b.Addr())
	}
}

// blocking is a backend whose requests wait until the test releases them.
type blocking struct {
	entered chan struct{} // gets one value per request that arrived
	release chan struct{} // closing it lets every request finish
}

// newBlocking starts a blocking backend and returns it with its address.
func newBlocking(t *testing.T) (*blocking, string) {
	b := &blocking{entered: make(chan struct{}, 16), release: make(chan struct{})}
	addr := startBackend(t, b)
	t.Cleanup(b.unblock)
	return b, addr
}

// ServeHTTP answers "done" once released.
func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		io.WriteString(w, "done")
	case <-r.Context().Done():
	}
}

// unblock releases every request, once.
func (b *blocking) unblock() {
	select {
	case <-b.release:
	default:
		close(b.release)
	}
}

// result is a response status and body, or the error getting them.
type result struct {
	code int
	body string
	err  error
}

// getAsync GETs url in the background.
func getAsync(url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		res, err := http.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		out <- result{code: res.StatusCode, body: string(body), err: err}
	}()
	return out
}

func TestDrainWaitsForSlowRequest(t *testing.T) {
	slow, slowAddr := newBlocking(t)
	p := proxy.New(proxy.Options{})
	p.Switch(slowAddr)
	addr := startProxy(t, p)
	res := getAsync("http://" + addr + "/")
	<-slow.entered
	old := p.Unavailable("deploying")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := old.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain() with a request in flight = %v, want context.DeadlineExceeded", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- drainGuarded(old) }()
	slow.unblock()
	if r := <-res; r.err != nil || r.code != http.StatusOK || r.body != "done" {
		t.Errorf("Get() = %d %q %v, want 200 \"done\"", r.code, r.body, r.err)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain() after the request finished = %v, want nil", err)
	}
}

// drainGuarded drains b, giving up after guard.
func drainGuarded(b *proxy.Backend) error {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	return b.Drain(ctx)
}

func TestSwitchUnderLoadLosesNoRequest(t *testing.T) {
	const clients, perClient, switches = 2, 500, 8
	current, first := startCounting(t)
	p := proxy.New(proxy.Options{})
	p.Switch(current.Listener.Addr().String())
	addr := startProxy(t, p)
	failures := make(chan string, clients*perClient)
	loadDone := runLoad(addr, clients, perClient, failures)
	for range switches {
		select {
		case <-first: // the current backend has served traffic
		case <-loadDone:
		}
		next, nextFirst := startCounting(t)
		old := p.Switch(next.Listener.Addr().String())
		if err := drainGuarded(old); err != nil {
			t.Fatalf("Drain() = %v, want nil", err)
		}
		current.Close() // the old process stops: a request still sent there fails
		current, first = next, nextFirst
	}
	<-loadDone
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

// startCounting starts a backend answering "ok"; the channel is closed
// when it has served its first request.
func startCounting(t *testing.T) (*httptest.Server, <-chan struct{}) {
	first := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(first) })
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, first
}

// runLoad sends clients×perClient GETs to addr and reports every one not
// answered 200 "ok" on failures. The returned channel closes when done.
func runLoad(addr string, clients, perClient int, failures chan<- string) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range perClient {
				if f := getOK("http://" + addr + "/"); f != "" {
					failures <- f
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// getOK GETs url and describes the failure if the answer is not 200 "ok".
func getOK(url string) string {
	res, err := http.Get(url)
	if err != nil {
		return "Get() = " + err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		return "Get() = " + res.Status + " " + string(body) + ", want 200 ok"
	}
	return ""
}
