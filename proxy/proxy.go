package proxy

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
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
	// TLS, when not nil, makes the proxy serve HTTPS (see TLS).
	TLS *TLS
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

// Proxy is an http.Handler that forwards each request to one of its ready
// backends, or answers 503 while there is none. Its methods are safe for
// concurrent use.
type Proxy struct {
	opts     Options
	route    atomic.Pointer[route]
	next     atomic.Uint64 // where the next request starts looking for a backend
	inflight gauge         // every request, on any backend, for Serve's shutdown
	log      *accessLog    // nil without Options.AccessLog

	mu     sync.Mutex          // serialises changes of slots
	slots  map[string]*Backend // the ready backend of each slot
	reason string              // why there is none, when no slot has one
}

// route is what new requests go to: the ready backends, in the order of
// their slots' names, or the reason there are none. It is replaced whole,
// so one atomic load gives a consistent view.
type route struct {
	backends []*Backend
	reason   string
}

// New returns a Proxy that answers 503 until the first Switch.
func New(o Options) *Proxy {
	o = o.withDefaults()
	p := &Proxy{opts: o, slots: map[string]*Backend{}, reason: notStarted}
	if o.AccessLog != nil {
		p.log = newAccessLog(o.AccessLog)
	}
	p.route.Store(&route{reason: notStarted})
	return p
}

// Switch routes new requests to addr ("127.0.0.1:PORT") alone: it is
// Slot("").Switch, for an app of one web process.
func (p *Proxy) Switch(addr string) *Backend { return p.Slot("").Switch(addr) }

// Unavailable is Slot("").Unavailable.
func (p *Proxy) Unavailable(reason string) *Backend { return p.Slot("").Unavailable(reason) }

// Backend returns the first ready backend, nil while there is none.
func (p *Proxy) Backend() *Backend {
	if bs := p.route.Load().backends; len(bs) > 0 {
		return bs[0]
	}
	return nil
}

// Slot returns the place in the proxy's rotation named name: one per web
// process of a formation ("web.1", "web.2", …), each holding at most one
// ready backend, its process's.
func (p *Proxy) Slot(name string) *Slot { return &Slot{p: p, name: name} }

// Slot is one place in the proxy's rotation; see Proxy.Slot.
type Slot struct {
	p    *Proxy
	name string
}

// Switch makes addr ("127.0.0.1:PORT") the slot's backend, which new
// requests may go to, and returns the slot's previous Backend, nil if
// there was none, so the caller can Drain it before stopping its process.
// Requests already running stay on the backend they started on.
func (s *Slot) Switch(addr string) *Backend { return s.p.set(s.name, newBackend(addr), "") }

// Unavailable takes the slot out of the rotation (for example while its
// crashed process restarts); while no slot has a backend, requests get a
// 503 page that gives reason. Like Switch it returns the previous Backend,
// nil if there was none, so the caller can Drain it.
func (s *Slot) Unavailable(reason string) *Backend { return s.p.set(s.name, nil, reason) }

// set gives slot the backend b (nil: none) and installs the new route. The
// backend it replaces no longer reuses its keep-alive connections (see
// Backend.retire).
func (p *Proxy) set(slot string, b *Backend, reason string) *Backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.slots[slot]
	if b == nil {
		delete(p.slots, slot)
		p.reason = reason
	} else {
		p.slots[slot] = b
	}
	r := &route{reason: p.reason}
	for _, name := range slices.Sorted(maps.Keys(p.slots)) {
		r.backends = append(r.backends, p.slots[name])
	}
	p.route.Store(r)
	old.retire()
	return old
}

// ServeHTTP forwards r to a ready backend and writes the access log. When
// the backend cannot be reached (its process died a moment ago), the
// request, which it never saw, goes to another one.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inflight.add()
	defer p.inflight.done()
	x := newExchange(w, r)
	defer p.logExchange(x, r)
	rt, b := p.acquire(nil)
	if b == nil {
		p.unavailablePage(x, rt.reason)
		return
	}
	if x.body = p.watchBody(w, r); x.body != nil {
		defer x.body.finish()
	}
	var tried []*Backend
	for {
		err := p.forward(x, r, b)
		b.inflight.done()
		if err == nil {
			return
		}
		b.markDown()
		tried = append(tried, b)
		if _, b = p.acquire(tried); b == nil {
			p.errorPage(x, r, err)
			return
		}
	}
}

// acquire picks a ready backend not in avoid and raises its in-flight
// count, returning the route it came from; the backend is nil when the
// route has no other. Checking the route again after raising the count
// closes the race with Switch: either the request was counted before
// Switch returned, so a Drain that follows waits for it, or it sees the
// new route and picks again there.
func (p *Proxy) acquire(avoid []*Backend) (*route, *Backend) {
	for {
		rt := p.route.Load()
		b := rt.pick(p.next.Add(1), avoid)
		if b == nil {
			return rt, nil
		}
		b.inflight.add()
		if p.route.Load() == rt {
			return rt, b
		}
		b.inflight.done()
	}
}

// pick returns the backend with the fewest requests in flight, looking
// from the nth one round so that equals take turns, skipping those in
// avoid and passing over backends that failed a moment ago while others
// remain.
func (rt *route) pick(n uint64, avoid []*Backend) *Backend {
	if len(rt.backends) == 1 && avoid == nil {
		return rt.backends[0] // the common case, at no cost
	}
	var best *Backend
	bestDown := false
	now := time.Now().UnixNano()
	for i := range rt.backends {
		b := rt.backends[(n+uint64(i))%uint64(len(rt.backends))]
		if slices.Contains(avoid, b) {
			continue
		}
		down := b.isDown(now)
		if best == nil || (bestDown && !down) || (down == bestDown && b.InFlight() < best.InFlight()) {
			best, bestDown = b, down
		}
	}
	return best
}
