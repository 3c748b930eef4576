package proxy

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

const (
	// dialTimeout bounds connecting to the app over loopback: a process
	// that takes longer to accept is not accepting.
	dialTimeout = 5 * time.Second
	// maxIdlePerBackend keeps enough pooled connections for bursts; the
	// http.Transport default of 2 makes a busy proxy open a new connection
	// for nearly every request.
	maxIdlePerBackend = 256
	// idleConnTimeout drops pooled connections to the app after a quiet
	// spell, below the keep-alive timeouts of common app servers.
	idleConnTimeout = 90 * time.Second
)

// Backend is one process the proxy forwards to, with a count of the
// requests in flight on it.
type Backend struct {
	addr     string
	rp       *httputil.ReverseProxy
	inflight gauge
}

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

// newBackend returns a Backend forwarding to addr over p's transport.
func (p *Proxy) newBackend(addr string) *Backend {
	target := &url.URL{Scheme: "http", Host: addr}
	b := &Backend{addr: addr}
	b.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite(target),
		Transport:      p.transport,
		FlushInterval:  -1, // stream every write: server-sent events, long polls
		ErrorHandler:   p.errorPage,
		ModifyResponse: recordResponse,
		// Copy errors are clients going away mid-response; the access log
		// shows the request, so the default stderr logging is only noise.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return b
}

// newTransport returns the connection pool shared by all backends.
// Proxy is left nil so HTTP_PROXY in the environment never applies to
// loopback traffic, and compression is off so bodies pass through as the
// app sent them instead of being decompressed and re-sent.
func newTransport(headerTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConnsPerHost:   maxIdlePerBackend,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// recordResponse notes a 101 Switching Protocols in the exchange: the
// upgrade path hijacks the connection and never calls WriteHeader. It
// also drops the app's X-Request-Id, which the proxy has set already, so
// the client does not get the header twice.
func recordResponse(res *http.Response) error {
	if x := exchangeFrom(res.Request.Context()); x != nil && res.StatusCode == http.StatusSwitchingProtocols {
		x.status = res.StatusCode
	}
	res.Header.Del(headerRequestID)
	return nil
}
