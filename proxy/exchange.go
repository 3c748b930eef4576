package proxy

import (
	"net/http"
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
	ids    [1]string
}

// newExchange starts recording a request and gives the client its id.
func newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	x := &exchange{ResponseWriter: w, id: requestID(r.Header), start: time.Now()}
	x.ids[0] = x.id
	w.Header()[headerRequestID] = x.ids[:] // Header().Set would allocate the slice
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
