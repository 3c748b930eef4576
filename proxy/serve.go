package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

const (
	// readHeaderTimeout stops clients that open connections and send
	// headers slowly (slowloris) from holding them forever.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes client keep-alive connections left unused.
	idleTimeout = 120 * time.Second
)

// Serve answers HTTP on l until ctx ends, then stops accepting, waits up
// to Options.ShutdownGrace for requests in flight (upgraded WebSocket
// connections included, which http.Server.Shutdown does not track) and
// returns nil. If the grace period runs out, the remaining requests are
// cut off and the error says how many there were. There is no write
// timeout: it would cut off streams and downloads.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	// Request contexts derive from hard, not ctx, so that ending ctx lets
	// requests finish; cancelling hard is what cuts them off.
	hard, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return hard },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving proxy on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	return p.shutdown(srv, served, abort)
}

// shutdown stops srv and waits for every request in flight on p, then
// cuts off what is left when the grace period ends.
func (p *Proxy) shutdown(srv *http.Server, served <-chan error, abort context.CancelFunc) error {
	grace, cancel := context.WithTimeout(context.Background(), p.opts.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(grace)
	<-served
	if err == nil {
		err = p.inflight.wait(grace)
	}
	if err == nil {
		return nil
	}
	n := p.inflight.count()
	abort()
	srv.Close()
	return fmt.Errorf("shutting down proxy: %d requests still in flight after %s: %w", n, p.opts.ShutdownGrace, err)
}
