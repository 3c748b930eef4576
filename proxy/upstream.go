package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

const (
	// dialTimeout bounds connecting to the app over loopback: a process
	// that takes longer to accept is not accepting.
	dialTimeout = 5 * time.Second
	// maxIdlePerBackend keeps enough pooled connections for bursts: more
	// than nginx's usual upstream keepalive, so a busy proxy never opens
	// a connection per request.
	maxIdlePerBackend = 256
	// idleConnTimeout drops pooled connections to the app after a quiet
	// spell, below the keep-alive timeouts of common app servers.
	idleConnTimeout = 90 * time.Second
	// checkIdleAfter: a pooled connection idle longer than this is checked
	// before it is reused, since the app may have closed it meanwhile
	// (app servers close idle keep-alive connections after a few
	// seconds). Under load connections are reused within microseconds and
	// are not checked.
	checkIdleAfter = 100 * time.Millisecond
	// upstreamBufferSize is the size of each pooled connection's read and
	// write buffers, http.Transport's default.
	upstreamBufferSize = 4 << 10
	// maxResponseHeaderBytes bounds the app's response line and headers,
	// http.Transport's default.
	maxResponseHeaderBytes = 10 << 20
)

// errHeaderTooLarge is the app sending more than maxResponseHeaderBytes of
// response headers.
var errHeaderTooLarge = errors.New("the app's response headers are larger than 10 MiB")

// upstream is a connection to the app, with its buffers. It is used by
// one request at a time, then returned to its pool.
type upstream struct {
	net.Conn
	addr   string        // the backend's, for requests without a Host
	br     *bufio.Reader // reads from the upstream itself, under limit
	bw     *bufio.Writer
	raw    syscall.RawConn // for alive's peek; nil if the conn has none
	limit  int64           // bytes left to read; applies while reading headers
	idleAt time.Time       // when it was last returned to the pool
	reused bool            // it served a request before this one
	// closeConn closes the connection: made once, for context.AfterFunc.
	closeConn func()
	// res and body are the response quickResponse reads, reused.
	res  http.Response
	body fixedBody
}

// Read reads from the connection within the current limit.
func (u *upstream) Read(b []byte) (int, error) {
	if u.limit <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(b)) > u.limit {
		b = b[:u.limit]
	}
	n, err := u.Conn.Read(b)
	u.limit -= int64(n)
	return n, err
}

// unlimit lifts the read limit once the response headers are read.
func (u *upstream) unlimit() { u.limit = 1<<63 - 1 }

// alive reports whether the app has not closed the idle connection nor
// sent anything on it, with a non-blocking peek at the socket.
func (u *upstream) alive() bool {
	if u.raw == nil {
		return true
	}
	var buf [1]byte
	ok := false
	err := u.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(err, syscall.EAGAIN)
		return true
	})
	return err == nil && ok
}

// dialError is a connection to a backend that could not be made: the
// request was not sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// pool keeps idle keep-alive connections to one backend, the most
// recently used first, so that under light load the same few stay warm.
type pool struct {
	addr   string
	dialer net.Dialer

	mu      sync.Mutex
	idle    []*upstream // oldest first
	retired bool
	sweeper *time.Timer
}

// newPool returns an empty pool of connections to addr.
func newPool(addr string) *pool {
	return &pool{addr: addr, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
}

// get returns an idle connection, or a new one.
func (p *pool) get(ctx context.Context) (*upstream, error) {
	for {
		u := p.pop()
		if u == nil {
			break
		}
		if time.Since(u.idleAt) < checkIdleAfter || u.alive() {
			u.reused = true
			return u, nil
		}
		u.Close()
	}
	return p.dial(ctx)
}

// dial opens a new connection to the backend.
func (p *pool) dial(ctx context.Context) (*upstream, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, &dialError{err}
	}
	u := &upstream{Conn: c, addr: p.addr, bw: bufio.NewWriterSize(c, upstreamBufferSize)}
	u.unlimit()
	u.br = bufio.NewReaderSize(u, upstreamBufferSize)
	u.closeConn = func() { u.Close() }
	if sc, ok := c.(syscall.Conn); ok {
		u.raw, _ = sc.SyscallConn() // without it, alive trusts the connection
	}
	return u, nil
}

// pop takes the most recently used idle connection, nil if none.
func (p *pool) pop() *upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	u := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return u
}

// put returns a connection that finished a request cleanly, or closes it
// when the pool is full or retired.
func (p *pool) put(u *upstream) {
	u.idleAt = time.Now()
	p.mu.Lock()
	if p.retired || len(p.idle) >= maxIdlePerBackend {
		p.mu.Unlock()
		u.Close()
		return
	}
	p.idle = append(p.idle, u)
	if p.sweeper == nil {
		p.sweeper = time.AfterFunc(idleConnTimeout, p.sweep)
	}
	p.mu.Unlock()
}

// sweep closes the connections idle for idleConnTimeout and runs again
// when the oldest of the rest reaches it.
func (p *pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleAt) >= idleConnTimeout {
		p.idle[n].Close()
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	if len(p.idle) == 0 || p.retired {
		p.sweeper = nil
		return
	}
	p.sweeper.Reset(idleConnTimeout - now.Sub(p.idle[0].idleAt))
}

// retire closes the idle connections, and those returned from now on.
func (p *pool) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	for _, u := range p.idle {
		u.Close()
	}
	p.idle = nil
	if p.sweeper != nil {
		p.sweeper.Stop()
		p.sweeper = nil
	}
}
