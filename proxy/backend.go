package proxy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Backend is one process the proxy forwards to, with a count of the
// requests in flight on it.
type Backend struct {
	addr     string
	pool     *pool
	inflight gauge
	// downUntil (ns since the epoch) passes the backend over while other
	// backends remain: a connection to it failed a moment ago.
	downUntil atomic.Int64
}

// downFor is how long a backend that refused a connection is passed over:
// long enough for its supervisor to notice the process died and take it
// out of the rotation, short enough that a backend whose accept queue was
// only full a moment is back soon.
const downFor = time.Second

// markDown passes the backend over for downFor.
func (b *Backend) markDown() { b.downUntil.Store(time.Now().Add(downFor).UnixNano()) }

// isDown reports whether the backend failed within downFor of now (ns).
func (b *Backend) isDown(now int64) bool { return b.downUntil.Load() > now }

// Addr returns the backend's "host:port"; "" for a nil Backend.
func (b *Backend) Addr() string {
	if b == nil {
		return ""
	}
	return b.addr
}

// InFlight returns the number of requests running on the backend, an
// upgraded (WebSocket) connection counting as one until it closes.
func (b *Backend) InFlight() int {
	if b == nil {
		return 0
	}
	return b.inflight.count()
}

// Drain waits until no request to the backend is in flight, upgraded
// connections included, or ctx ends. Call it on the Backend that Switch or
// Unavailable returned, before stopping that process. A nil Backend (no
// previous one) is drained already.
func (b *Backend) Drain(ctx context.Context) error {
	if b == nil {
		return nil
	}
	if err := b.inflight.wait(ctx); err != nil {
		return fmt.Errorf("draining %s with %d requests in flight: %w", b.addr, b.InFlight(), err)
	}
	return nil
}

// newBackend returns a Backend forwarding to addr.
func newBackend(addr string) *Backend {
	return &Backend{addr: addr, pool: newPool(addr)}
}

// retire closes the backend's idle connections, and each connection still
// in use when its request ends: a restarted process may reuse the port, and
// a pooled connection to the dead one would fail a request. A nil Backend
// has none.
func (b *Backend) retire() {
	if b != nil {
		b.pool.retire()
	}
}
