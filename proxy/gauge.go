package proxy

import (
	"context"
	"sync"
	"sync/atomic"
)

// gauge counts requests in flight and lets callers wait for it to reach
// zero. A sync.WaitGroup cannot be waited on with a deadline, and its Add
// must not race with Wait, which Drain right after Switch would do. The
// count is atomic, so requests do not contend on a lock; the lock is
// taken only when the count drops to zero, to wake those waiting.
type gauge struct {
	n    atomic.Int64
	mu   sync.Mutex
	zero chan struct{} // closed when n drops to zero; nil while nobody waits
}

// add counts one more request.
func (g *gauge) add() { g.n.Add(1) }

// done counts one request as finished.
func (g *gauge) done() {
	if g.n.Add(-1) != 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Another request may have started since: then the waiters wait for
	// it too, and whoever brings the count to zero again wakes them.
	if g.zero != nil && g.n.Load() == 0 {
		close(g.zero)
		g.zero = nil
	}
}

// count returns the number of requests in flight.
func (g *gauge) count() int {
	return int(g.n.Load())
}

// wait returns nil once no request is in flight, or ctx's error first.
func (g *gauge) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n.Load() == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.zero == nil {
		g.zero = make(chan struct{})
	}
	zero := g.zero
	g.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
