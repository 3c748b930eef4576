package proxy

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// body is a request body read under the proxy's body limits: each read
// must bring bytes within BodyTimeout, and the time spent waiting for the
// client may exceed BodyTimeout only by what MinBodyRate earns for the
// bytes received. Time the app takes to accept the bytes (backpressure
// from a slow upload handler) is not the client's and is not counted. The
// limits work through the connection's read deadline, which net/http
// exposes through http.ResponseController.
type body struct {
	io.ReadCloser
	ctl     *http.ResponseController // deadlines are best effort: a failure shows in the read itself
	timeout time.Duration
	rate    float64 // bytes per second; zero or less: no minimum

	mu     sync.Mutex // the transport reads while the handler may finish
	n      int64
	waited time.Duration
	eof    bool
	err    error // the first read error but EOF
	done   bool  // the handler returned: the connection is no longer ours
}

// watchBody wraps r's body when it has one, else returns nil.
func (p *Proxy) watchBody(w http.ResponseWriter, r *http.Request) *body {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	return &body{
		ReadCloser: r.Body,
		ctl:        http.NewResponseController(w),
		timeout:    p.opts.BodyTimeout,
		rate:       float64(p.opts.MinBodyRate),
	}
}

// Read reads under a deadline; once the body ends, the deadline is
// lifted, because net/http then reads on to notice a client that goes
// away, and a deadline passing then would cancel a streaming response.
func (b *body) Read(p []byte) (int, error) {
	start := time.Now()
	if !b.arm(start) {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	b.waited += time.Since(start)
	if err != nil && !b.done {
		_ = b.ctl.SetReadDeadline(time.Time{})
		b.eof = err == io.EOF
		if !b.eof && b.err == nil {
			b.err = err
		}
	}
	return n, err
}

// arm sets the read deadline for the next read, unless the handler has
// returned; it reports whether the read may go on.
func (b *body) arm(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false
	}
	_ = b.ctl.SetReadDeadline(now.Add(b.budget()))
	return true
}

// budget is how long the next read may wait for the client.
func (b *body) budget() time.Duration {
	if b.rate <= 0 {
		return b.timeout
	}
	earned := time.Duration(float64(b.n) / b.rate * float64(time.Second))
	return min(b.timeout, b.timeout+earned-b.waited)
}

// failure returns why reading the body failed, nil if it did not.
func (b *body) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// finish is called when the handler returns. Reads still running in the
// transport must no longer touch the connection's deadline, which net/http
// now sets for the next request. An unfinished body gets BodyTimeout for
// net/http to discard the rest, so a client that trickles a body the app
// never read cannot hold the connection either.
func (b *body) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if !b.eof {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	}
}
