package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// statusClientClosed is nginx's code for "the client went away before the
// answer", used only in the access log.
const statusClientClosed = 499

// exchange is one request as the proxy sees it: its id and start time for
// the forwarded headers, and what was answered, for the access log. It
// wraps the client's ResponseWriter; Unwrap lets http.ResponseController
// reach the Flusher and Hijacker that streaming and WebSockets need.
type exchange struct {
	http.ResponseWriter
	id     string
	start  time.Time
	status int
	bytes  int64
	err    error // why the backend could not answer, for the access log
	body   *body // the request body being forwarded, nil without one
}

// newExchange starts recording a request and gives the client its id.
func newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	x := &exchange{ResponseWriter: w, id: requestID(r.Header), start: time.Now()}
	w.Header().Set(headerRequestID, x.id)
	return x
}

// WriteHeader records the final status; 1xx informational answers such
// as 103 Early Hints are forwarded but are not the request's status.
func (x *exchange) WriteHeader(code int) {
	if x.status == 0 && code >= http.StatusOK {
		x.status = code
	}
	x.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes sent to the client.
func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	n, err := x.ResponseWriter.Write(b)
	x.bytes += int64(n)
	return n, err
}

// Unwrap returns the client's ResponseWriter.
func (x *exchange) Unwrap() http.ResponseWriter {
	return x.ResponseWriter
}

type exchangeKey struct{}

// withExchange returns ctx carrying x, for the ReverseProxy hooks.
func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// exchangeFrom returns the exchange in ctx, nil if there is none.
func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// logExchange writes x's access-log line, in logfmt like Heroku's router:
//
//	time=2025-01-02T15:04:05.000Z method=GET path="/a?b=1" host="shop.example" status=200 bytes=512 duration=1.234ms request_id=0f1e... fwd="203.0.113.9"
//
// with error="..." added when the app could not be reached.
func (p *Proxy) logExchange(x *exchange, r *http.Request) {
	if p.opts.AccessLog == nil {
		return
	}
	line := fmt.Sprintf("time=%s method=%s path=%s host=%s status=%d bytes=%d duration=%s request_id=%s fwd=%s",
		x.start.UTC().Format("2006-01-02T15:04:05.000Z"), r.Method, strconv.Quote(r.URL.RequestURI()),
		strconv.Quote(r.Host), x.status, x.bytes, time.Since(x.start).Round(time.Microsecond),
		x.id, strconv.Quote(clientIP(r)))
	if x.err != nil {
		line += " error=" + strconv.Quote(x.err.Error())
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	_, _ = p.opts.AccessLog.Write([]byte(line + "\n")) // a broken log must not fail requests
}
