package proxy

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The proxy speaks HTTP/1.1 to the app itself, over keep-alive connections
// it pools per backend, instead of going through httputil.ReverseProxy and
// http.Transport: the handler's goroutine writes the request and reads the
// answer on the connection directly, where http.Transport hands each
// request between three goroutines and ReverseProxy flushes the response
// headers on a timer of their own, costs that made the proxy several times
// slower than nginx. Request bodies are still sent by a goroutine of their
// own, so that an app can answer before it has read the whole body.

const (
	// copyBufferSize is the size of the buffers bodies are copied through.
	copyBufferSize = 32 << 10
	// max1xxResponses bounds the informational answers (103 Early Hints,
	// 100 Continue) before the final one, as http.Transport does.
	max1xxResponses = 5
)

// buffers holds the body copy buffers between requests.
var buffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// errTooMany1xx is an app that keeps sending informational answers.
var errTooMany1xx = errors.New("the app sent too many 1xx informational responses")

// forward sends r to b and b's answer to the client. A request that needs
// no body and finds its pooled connection closed by the app (which may
// close idle connections at any time) is sent again on a new connection,
// as http.Transport does. When no connection to b can be made, or a new
// one is closed with no answer to such a request (the process is going
// away), nothing is answered and the error is returned: the request may
// go to another backend, as nginx's proxy_next_upstream does. Other
// failures are answered with an error page.
func (p *Proxy) forward(x *exchange, r *http.Request, b *Backend) error {
	upType, err := upgradeType(r.Header)
	if err != nil {
		p.errorPage(x, r, err)
		return nil
	}
	elsewhere := false
	u, err := b.pool.get(r.Context())
	for err == nil {
		var again bool
		if again, err = p.exchangeOn(u, x, r, b.pool, upType); err == nil {
			return nil
		}
		if !again || !replayable(r) || r.Context().Err() != nil {
			break
		}
		if !u.reused {
			elsewhere = true
			break
		}
		u, err = b.pool.dial(r.Context())
	}
	var de *dialError
	if (elsewhere || errors.As(err, &de)) && r.Context().Err() == nil {
		return err
	}
	p.errorPage(x, r, err)
	return nil
}

// exchangeOn forwards r on u and the answer to the client. It returns an
// error only when the client has had no answer yet, with again set when
// the app answered nothing at all on u, so that r may be sent again on
// another connection. u is closed, or returned to pool when it may serve
// another request.
func (p *Proxy) exchangeOn(u *upstream, x *exchange, r *http.Request, pool *pool, upType string) (again bool, err error) {
	// A client that goes away, or Serve's hard stop, closes u: the read
	// or write in progress on it fails and the request ends.
	stop := context.AfterFunc(r.Context(), u.closeConn)
	keep := false
	defer func() {
		if stop() && keep {
			pool.put(u)
		} else {
			u.Close()
		}
	}()
	res, sent, again, err := p.roundTrip(u, x, r, upType)
	if err != nil {
		if r.Context().Err() != nil {
			// A failed read of the body cancels the request's context
			// before the body's error is recorded: wait for it, so that
			// the error page can tell. The send ends at once, its body or
			// its connection being gone.
			_ = sent.wait()
		}
		return again, err
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// The new protocol starts after the request's body, if any.
		if err := sent.wait(); err != nil {
			return false, err
		}
		p.switchProtocols(u, x, r, res, upType)
		return false, nil
	}
	relay(x, res)
	keep = sent.finished() && !res.Close && u.br.Buffered() == 0
	return false, nil
}

// roundTrip writes r on u and reads the app's final response headers,
// relaying informational (1xx) answers to the client as they come. again
// reports an error that came before the app answered anything, the
// request's body not yet begun.
func (p *Proxy) roundTrip(u *upstream, x *exchange, r *http.Request, upType string) (res *http.Response, s *sender, again bool, err error) {
	// The head is built in the write buffer's free space: no copy.
	_, _ = u.bw.Write(appendRequestHead(u.bw.AvailableBuffer(), r, x, p.opts.TrustForwarded, u.addr, upType)) // an error shows in Flush
	if hasBody(r) {
		s = p.send(u, x, r)
	} else {
		if err := u.bw.Flush(); err != nil {
			return nil, nil, retryable(err), err
		}
		_ = u.SetReadDeadline(time.Now().Add(p.opts.ResponseHeaderTimeout)) // a failure shows in the read
	}
	u.limit = maxResponseHeaderBytes
	defer u.unlimit()
	for n := 0; ; n++ {
		if _, err := u.br.Peek(1); err != nil {
			return nil, s, s == nil && retryable(err), err
		}
		if res = quickResponse(u, r, x.Header()); res != nil {
			break
		}
		res, err = http.ReadResponse(u.br, r)
		if err != nil {
			return nil, s, false, err
		}
		if res.StatusCode >= http.StatusOK || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xxResponses {
			return nil, s, false, errTooMany1xx
		}
		informational(x, res)
	}
	s.answered()
	_ = u.SetReadDeadline(time.Time{})
	return res, s, false, nil
}

// informational relays a 1xx answer (100 Continue, 103 Early Hints) to
// the client with its headers, which the final answer does not keep.
func informational(x *exchange, res *http.Response) {
	h := x.Header()
	kept := maps.Clone(h)
	for k, vv := range res.Header {
		if k != headerRequestID {
			h[k] = vv
		}
	}
	x.WriteHeader(res.StatusCode)
	clear(h)
	maps.Copy(h, kept)
}

// relay writes res to the client, flushing after every write so that
// streams (server-sent events, long polls) are not held back. If the copy
// fails half-way, the client's connection is aborted (it panics with
// http.ErrAbortHandler, as ReverseProxy does), so that a cut response
// cannot pass for a whole one.
func relay(x *exchange, res *http.Response) {
	h := x.Header()
	if res.Header != nil { // else quickResponse has set the fields in h
		removeHopByHop(res.Header)
		for k, vv := range res.Header {
			if k != headerRequestID { // the proxy has set it already
				h[k] = vv
			}
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		h.Add("Trailer", strings.Join(keys(res.Trailer), ", "))
	}
	x.WriteHeader(res.StatusCode)
	if err := copyFlushing(x, res.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // read to the end already; this fills res.Trailer
	relayTrailers(x, res.Trailer, announced)
}

// copyFlushing copies body to the client, flushing after each write.
func copyFlushing(x *exchange, body io.Reader) error {
	flush := func() {}
	if f, ok := x.ResponseWriter.(http.Flusher); ok {
		flush = f.Flush
	}
	buf := buffers.Get().(*[copyBufferSize]byte)
	defer buffers.Put(buf)
	for {
		n, err := body.Read(buf[:])
		if n > 0 {
			if _, werr := x.Write(buf[:n]); werr != nil {
				return werr
			}
			flush() // a failure shows in the next write
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// relayTrailers sets the trailers that came after the body, as
// ReverseProxy does: under their names when they were all announced, else
// with http.TrailerPrefix, and forces chunking so the client gets them.
func relayTrailers(x *exchange, trailer http.Header, announced int) {
	if len(trailer) == 0 {
		return
	}
	_ = http.NewResponseController(x).Flush()
	h := x.Header()
	for k, vv := range trailer {
		if len(trailer) != announced {
			k = http.TrailerPrefix + k
		}
		h[k] = append(h[k], vv...)
	}
}

// keys returns h's keys.
func keys(h http.Header) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	return ks
}

// hasBody reports whether r comes with a body to forward.
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// replayable reports whether r may be sent again after a connection failed
// before any answer, http.Transport's rule: no body, and a method that is
// idempotent or an idempotency key.
func replayable(r *http.Request) bool {
	if hasBody(r) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := r.Header["Idempotency-Key"]
	_, xkey := r.Header["X-Idempotency-Key"]
	return key || xkey
}

// retryable reports whether err is a pooled connection found closed by
// the app: nothing was read from it, and the app has not seen the request.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
