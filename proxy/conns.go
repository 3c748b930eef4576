package proxy

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// maxDefaultConnections caps the default limit however many files
	// the process may open: each connection costs a goroutine and
	// buffers (tens of KiB), and 4096 is what nginx's stock
	// configuration serves on a four-core host (worker_connections
	// 1024 per worker).
	maxDefaultConnections = 4096
	// minDefaultConnections keeps a proxy usable under a tiny open-file
	// limit; accepting then fails with EMFILE, which net/http retries.
	minDefaultConnections = 16
	// reservedFiles are descriptors left to the rest of paas: the store,
	// the runtime's sockets, pipes of process output, readiness checks.
	reservedFiles = 128
	// filesPerConnection: a proxied connection holds the client's socket
	// and one to the app.
	filesPerConnection = 2
)

// DefaultMaxConnections returns the connection limit used when
// Options.MaxConnections is zero: as many as the process's open-file limit
// (RLIMIT_NOFILE, which the Go runtime raises to the hard limit at start)
// leaves room for after reservedFiles and the pool of idle connections to
// the app, between minDefaultConnections and maxDefaultConnections.
func DefaultMaxConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return minDefaultConnections
	}
	return connectionsFor(lim.Cur)
}

// connectionsFor returns the connection limit for an open-file limit.
func connectionsFor(files uint64) int {
	const overhead = reservedFiles + maxIdlePerBackend
	if files <= overhead {
		return minDefaultConnections
	}
	n := (files - overhead) / filesPerConnection
	return int(max(minDefaultConnections, min(n, maxDefaultConnections)))
}

// limitListener accepts at most cap(slots) connections open at once and
// gives each a per-write deadline. While it waits for a slot, idle
// keep-alive connections are closed to make room (as nginx does when it
// runs short of connections), so idle browsers cannot starve new clients:
// it calls full when it starts waiting, for those idle already, and
// connState closes those that become idle while it waits.
type limitListener struct {
	net.Listener
	slots        chan struct{}
	closed       chan struct{}
	closeOnce    sync.Once
	full         func()
	waiting      atomic.Bool
	writeTimeout time.Duration
}

// newLimitListener wraps l; see limitListener.
func newLimitListener(l net.Listener, maxConns int, writeTimeout time.Duration, full func()) *limitListener {
	return &limitListener{
		Listener:     l,
		slots:        make(chan struct{}, maxConns),
		closed:       make(chan struct{}),
		full:         full,
		writeTimeout: writeTimeout,
	}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &conn{Conn: c, release: l.release, writeTimeout: l.writeTimeout}, nil
}

// acquire takes a slot, calling full first if none is free; it returns
// false if the listener closes while waiting.
func (l *limitListener) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	// waiting is set before full runs, so a connection becoming idle
	// meanwhile is closed by one or the other.
	l.waiting.Store(true)
	defer l.waiting.Store(false)
	l.full()
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.closed:
		return false
	}
}

// connState is the http.Server hook that closes a connection going idle
// while Accept waits for a slot.
func (l *limitListener) connState(c net.Conn, state http.ConnState) {
	if state == http.StateIdle && l.waiting.Load() {
		c.Close()
	}
}

// release frees a slot.
func (l *limitListener) release() { <-l.slots }

// Close stops accepting; a waiting Accept returns.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// conn is an accepted client connection holding a slot until closed.
type conn struct {
	net.Conn
	release      func()
	releaseOnce  sync.Once
	writeTimeout time.Duration
	deadline     time.Time // the write deadline last set; written by one writer at a time
}

// deadlineSlack is how much of writeTimeout a write may find used up
// before its deadline is moved: moving it costs a timer update, which a
// busy connection need not pay on every response.
const deadlineSlack = time.Second

// Write gives each write its own deadline: a client that stops reading
// is cut off after writeTimeout (less at most deadlineSlack), while a
// stream that merely idles between writes is not. It also covers
// upgraded (WebSocket) connections, which net/http hands over without
// deadlines.
func (c *conn) Write(b []byte) (int, error) {
	if now := time.Now(); c.deadline.Sub(now) < c.writeTimeout-deadlineSlack {
		c.deadline = now.Add(c.writeTimeout)
		_ = c.SetWriteDeadline(c.deadline) // a closed conn fails the Write below
	}
	return c.Conn.Write(b)
}

// Close closes the connection and frees its slot, once: net/http and a
// hijacker may both close it.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.releaseOnce.Do(c.release)
	return err
}

// CloseWrite half-closes the connection when it can, which net/http does
// before closing so the client reads the whole last response instead of
// a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
