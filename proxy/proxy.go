package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults for the Options fields left zero.
const (
	// DefaultShutdownGrace is Dokku's stop timeout: requests in flight get
	// as long to finish as the process gets between SIGTERM and SIGKILL.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultResponseHeaderTimeout is nginx's proxy_read_timeout default,
	// the limit apps behind Dokku already live with. Streams are not cut by
	// it: it only bounds the wait for the response headers.
	DefaultResponseHeaderTimeout = 60 * time.Second
	// DefaultReadHeaderTimeout bounds reading a request's headers, so a
	// client sending them byte by byte (slowloris) cannot hold a
	// connection; real clients send them in one packet.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout is nginx's client_body_timeout: the longest wait
	// for the next bytes of a request body, and the grace before
	// DefaultMinBodyRate is enforced.
	DefaultBodyTimeout = 60 * time.Second
	// DefaultMinBodyRate (bytes per second) is what a request body must
	// average once DefaultBodyTimeout has passed, like Kestrel's minimum
	// data rate: a body trickled slower is cut off, so its connection is
	// bounded in time, while a phone on a bad link (kilobytes per second)
	// still uploads.
	DefaultMinBodyRate = 1024
	// DefaultWriteTimeout is nginx's send_timeout: the longest one write
	// to the client may block, so a client that stops reading (a slow
	// read attack) is cut off. It is per write, not per response, so
	// streams, long downloads and WebSockets that idle stay open.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout closes client keep-alive connections left unused.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes bounds a request's line and headers together:
	// 64 KiB is twice nginx's default (4 buffers of 8 KiB), room for large
	// cookies, and a sixteenth of net/http's default. Larger requests get
	// 431.
	DefaultMaxHeaderBytes = 64 << 10
)

// notStarted is the 503 reason before the first Switch.
const notStarted = "the app has not started yet"

// Options configure a Proxy. The zero value is usable.
type Options struct {
	// AccessLog gets one line per request (time, method, path, host,
	// status, bytes, duration, request id, client address); nil logs
	// nothing. Requests never wait for it: lines are written whole and
	// in order by a goroutine of the Proxy's, gathered for 5 ms into one
	// Write. When 1 MiB of lines waits on a slow writer, further lines
	// are dropped until it catches up, and a line saying how many takes
	// their place. Serve waits up to 5 s, when it returns, for the lines
	// still waiting.
	AccessLog io.Writer
	// Name is the app's name, shown on the proxy's own error pages.
	Name string
	// ShutdownGrace bounds how long Serve waits for requests in flight
	// after its context ends; zero means DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// ResponseHeaderTimeout bounds the wait for the app's response
	// headers; zero means DefaultResponseHeaderTimeout. A timeout is
	// answered 504.
	ResponseHeaderTimeout time.Duration
	// TrustForwarded says another proxy we trust (a load balancer that
	// terminates TLS) sits in front: the client's X-Forwarded-For is then
	// kept and our peer appended, and its X-Forwarded-Proto, -Host and
	// -Port are kept. Off by default, as with Dokku's nginx, because any
	// client can send these headers and apps use them for security
	// decisions (rate limits, redirects to https).
	TrustForwarded bool
	// ReadHeaderTimeout bounds reading each request's headers; zero
	// means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is the longest wait for the next bytes of a request
	// body; zero means DefaultBodyTimeout. A body that stalls is cut off
	// and answered 408.
	BodyTimeout time.Duration
	// MinBodyRate is the average rate, in bytes per second, a request
	// body must keep up once BodyTimeout has passed, counting only the
	// time spent waiting for the client (not for the app to take the
	// bytes); zero means DefaultMinBodyRate, negative means no minimum.
	MinBodyRate int
	// WriteTimeout is the longest one write to a client may block; zero
	// means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections unused that long; zero
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and headers; zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConnections bounds the client connections open at once; zero
	// means DefaultMaxConnections(). Past it the proxy stops accepting
	// (new connections wait in the kernel's backlog, as with nginx) and
	// closes idle keep-alive connections to make room.
	MaxConnections int
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	o.ShutdownGrace = orDefault(o.ShutdownGrace, DefaultShutdownGrace)
	o.ResponseHeaderTimeout = orDefault(o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	o.ReadHeaderTimeout = orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	o.BodyTimeout = orDefault(o.BodyTimeout, DefaultBodyTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout)
	o.MaxHeaderBytes = orDefault(o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	if o.MinBodyRate == 0 {
		o.MinBodyRate = DefaultMinBodyRate
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections()
	}
	return o
}

// orDefault returns v, or def when v is zero or negative.
func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Proxy is an http.Handler that forwards each request to the current
// Backend, or answers 503 while there is none. Its methods are safe for
// concurrent use.
type Proxy struct {
	opts     Options
	route    atomic.Pointer[route]
	inflight gauge      // every request, on any backend, for Serve's shutdown
	log      *accessLog // nil without Options.AccessLog
}

// route is what new requests go to: a backend, or the reason there is none.
// It is replaced whole, so one atomic load gives a consistent pair.
type route struct {
	backend *Backend
	reason  string
}

// New returns a Proxy that answers 503 until the first Switch.
func New(o Options) *Proxy {
	o = o.withDefaults()
	p := &Proxy{opts: o}
	if o.AccessLog != nil {
		p.log = newAccessLog(o.AccessLog)
	}
	p.route.Store(&route{reason: notStarted})
	return p
}

// Switch routes new requests to addr ("127.0.0.1:PORT") and returns the
// previous Backend, nil if there was none, so the caller can Drain it
// before stopping its process. Requests already running stay on the
// backend they started on.
func (p *Proxy) Switch(addr string) *Backend {
	return p.swap(&route{backend: newBackend(addr)})
}

// Unavailable makes new requests get a 503 page that gives reason (for
// example while a crashed process restarts). Like Switch it returns the
// previous Backend, nil if there was none, so the caller can Drain it.
func (p *Proxy) Unavailable(reason string) *Backend {
	return p.swap(&route{reason: reason})
}

// swap installs r and returns the backend it replaces, whose keep-alive
// connections are no longer reused (see Backend.retire).
func (p *Proxy) swap(r *route) *Backend {
	old := p.route.Swap(r)
	old.backend.retire()
	return old.backend
}

// Backend returns the backend new requests go to, nil while unavailable.
func (p *Proxy) Backend() *Backend {
	return p.route.Load().backend
}

// ServeHTTP forwards r to the current backend and writes the access log.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inflight.add()
	defer p.inflight.done()
	x := newExchange(w, r)
	defer p.logExchange(x, r)
	rt := p.acquire()
	if rt.backend == nil {
		p.unavailablePage(x, rt.reason)
		return
	}
	defer rt.backend.inflight.done()
	if x.body = p.watchBody(w, r); x.body != nil {
		defer x.body.finish()
	}
	p.forward(x, r, rt.backend)
}

// acquire returns the current route with its backend's in-flight count
// already raised. Checking the route again after raising the count closes
// the race with Switch: either the request was counted before Switch
// returned, so a Drain that follows waits for it, or it sees the new route
// and tries again there.
func (p *Proxy) acquire() *route {
	for {
		rt := p.route.Load()
		if rt.backend == nil {
			return rt
		}
		rt.backend.inflight.add()
		if p.route.Load() == rt {
			return rt
		}
		rt.backend.inflight.done()
	}
}
