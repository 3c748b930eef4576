package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TLS makes the proxy serve HTTPS, with HTTP/2 for clients that offer it.
// Plain HTTP on the same port is redirected to https (RedirectHTTP) or
// answered 400, as nginx answers plain HTTP sent to its HTTPS port.
type TLS struct {
	Certificate  *Certificate
	RedirectHTTP bool
}

// Certificate is a certificate chain and key read from PEM files, which
// Reload reads again: a renewed certificate is served without a restart.
type Certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads the certificate chain and its key.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. When they do not hold a valid pair, the
// certificate served stays the one read last, and the error says why.
func (c *Certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("reading the TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.current.Store(&pair)
	return nil
}

// get is tls.Config's GetCertificate.
func (c *Certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// config is the server side of the proxy's TLS: TLS 1.2 and later, HTTP/2
// offered first.
func (t *TLS) config() *tls.Config {
	return &tls.Config{
		GetCertificate: t.Certificate.get,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// plainHTTP answers a plain HTTP request sent to the HTTPS port.
func (t *TLS) plainHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if t.RedirectHTTP && r.Host != "" {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return
	}
	http.Error(w, "This port speaks HTTPS: use https://"+r.Host+r.URL.RequestURI(), http.StatusBadRequest)
}

// tlsRecord is the first byte of every TLS connection: a handshake record.
const tlsRecord = 0x16

// demux sorts one listener's connections by their first byte: TLS
// handshakes to tlsL, served as TLS, the rest to plainL. A client that
// sends nothing within timeout is closed.
type demux struct {
	l       net.Listener
	cfg     *tls.Config
	timeout time.Duration
	tlsL    *chanListener
	plainL  *chanListener
}

func newDemux(l net.Listener, cfg *tls.Config, timeout time.Duration) *demux {
	closed := make(chan struct{})
	var once sync.Once
	shut := func() { once.Do(func() { close(closed) }) }
	return &demux{
		l: l, cfg: cfg, timeout: timeout,
		tlsL:   &chanListener{l: l, conns: make(chan net.Conn), closed: closed, shut: shut},
		plainL: &chanListener{l: l, conns: make(chan net.Conn), closed: closed, shut: shut},
	}
}

// run accepts until the listener fails or closes, then closes both sides.
func (d *demux) run() error {
	defer d.tlsL.shut()
	for {
		c, err := d.l.Accept()
		if err != nil {
			return err
		}
		go d.route(c)
	}
}

// route reads c's first byte and hands c to the side it belongs to.
func (d *demux) route(c net.Conn) {
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(d.timeout))
	if _, err := c.Read(first[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &prefixConn{Conn: c, prefix: first[:]}
	if first[0] == tlsRecord {
		d.tlsL.hand(tls.Server(pc, d.cfg))
		return
	}
	d.plainL.hand(pc)
}

// chanListener is one side of a demux.
type chanListener struct {
	l      net.Listener
	conns  chan net.Conn
	closed chan struct{}
	shut   func()
}

func (cl *chanListener) hand(c net.Conn) {
	select {
	case cl.conns <- c:
	case <-cl.closed:
		c.Close()
	}
}

func (cl *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-cl.conns:
		return c, nil
	case <-cl.closed:
		return nil, net.ErrClosed
	}
}

// Close closes the listener both sides share.
func (cl *chanListener) Close() error {
	cl.shut()
	err := cl.l.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (cl *chanListener) Addr() net.Addr { return cl.l.Addr() }

// prefixConn gives back the bytes already read from its connection first.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
