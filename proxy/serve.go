package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Serve answers HTTP on l until ctx ends, then stops accepting, waits up
// to Options.ShutdownGrace for requests in flight (upgraded WebSocket
// connections included, which http.Server.Shutdown does not track) and
// returns nil. If the grace period runs out, the remaining requests are
// cut off and the error says how many there were.
//
// Connections are held to the Options' limits: header and body read
// timeouts, a per-write timeout (not a whole-response one, which would cut
// off streams and downloads), an idle timeout and a connection limit.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	// Request contexts derive from hard, not ctx, so that ending ctx lets
	// requests finish; cancelling hard is what cuts them off.
	hard, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	defer p.flushLog()
	var servers []*http.Server
	limited := newLimitListener(l, p.opts.MaxConnections, p.opts.WriteTimeout, func() {
		for _, srv := range servers {
			closeIdle(srv)
		}
	})
	newServer := func(h http.Handler) *http.Server {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: p.opts.ReadHeaderTimeout,
			IdleTimeout:       p.opts.IdleTimeout,
			MaxHeaderBytes:    p.opts.MaxHeaderBytes,
			BaseContext:       func(net.Listener) context.Context { return hard },
			ConnState:         limited.connState,
		}
		servers = append(servers, srv)
		return srv
	}
	listeners := []net.Listener{limited}
	main := newServer(p)
	if t := p.opts.TLS; t != nil {
		main.TLSConfig = t.config()
		newServer(http.HandlerFunc(t.plainHTTP))
		d := newDemux(limited, main.TLSConfig, p.opts.ReadHeaderTimeout)
		listeners = []net.Listener{d.tlsL, d.plainL}
		go d.run() //nolint:errcheck // it ends when the listener closes, which Serve reports
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { served <- srv.Serve(listeners[i]) }()
	}
	select {
	case err := <-served:
		for _, srv := range servers {
			srv.Close()
		}
		return fmt.Errorf("serving proxy on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	return p.shutdown(servers, served, abort)
}

// shutdown stops the servers and waits for every request in flight on p,
// then cuts off what is left when the grace period ends.
func (p *Proxy) shutdown(servers []*http.Server, served <-chan error, abort context.CancelFunc) error {
	grace, cancel := context.WithTimeout(context.Background(), p.opts.ShutdownGrace)
	defer cancel()
	var err error
	for _, srv := range servers {
		err = errors.Join(err, srv.Shutdown(grace))
	}
	for range servers {
		<-served //nolint:errcheck // Serve returns http.ErrServerClosed once Shutdown has begun
	}
	if err == nil {
		err = p.inflight.wait(grace)
	}
	if err == nil {
		return nil
	}
	n := p.inflight.count()
	abort()
	for _, srv := range servers {
		srv.Close()
	}
	return fmt.Errorf("shutting down proxy: %d requests still in flight after %s: %w", n, p.opts.ShutdownGrace, err)
}

// flushLog waits a little for the access-log lines still queued, so that
// the last requests are logged before the process exits.
func (p *Proxy) flushLog() {
	if p.log == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), logFlushGrace)
	defer cancel()
	p.log.flush(ctx)
}

// closeIdle closes srv's idle keep-alive connections (and connections
// that have sent no request for 5 s). net/http offers this only through
// SetKeepAlivesEnabled(false); keep-alives are enabled again at once, so
// at most the responses finishing meanwhile close their connection,
// which frees room too.
func closeIdle(srv *http.Server) {
	srv.SetKeepAlivesEnabled(false)
	srv.SetKeepAlivesEnabled(true)
}
