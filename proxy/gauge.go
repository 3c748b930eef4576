package proxy

import (
	"context"
	"sync"
)

// gauge counts requests in flight and lets callers wait for it to reach
// zero. A sync.WaitGroup cannot be waited on with a deadline, and its Add
// must not race with Wait, which Drain right after Switch would do.
type gauge struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to zero; replaced when n leaves zero
}

// add counts one more request.
func (g *gauge) add() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		g.zero = make(chan struct{})
	}
	g.n++
}

// done counts one request as finished.
func (g *gauge) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 {
		close(g.zero)
	}
}

// count returns the number of requests in flight.
func (g *gauge) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// wait returns nil once no request is in flight, or ctx's error first.
func (g *gauge) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
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
