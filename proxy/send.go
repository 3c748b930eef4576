package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// sender writes a request body to the app in a goroutine of its own. The
// wait for the app's response headers (ResponseHeaderTimeout) starts when
// the body is sent, as with http.Transport, so that a long upload is not
// cut off by it.
type sender struct {
	u       *upstream
	timeout time.Duration
	done    chan struct{} // closed when the send has ended
	err     error         // why it failed; read after done

	mu     sync.Mutex
	headed bool // the app's response headers arrived; the deadline is lifted
}

// send starts sending r's body on u after the head written already.
func (p *Proxy) send(u *upstream, x *exchange, r *http.Request) *sender {
	s := &sender{u: u, timeout: p.opts.ResponseHeaderTimeout, done: make(chan struct{})}
	var body io.Reader = r.Body
	if x.body != nil {
		body = x.body
	}
	go func() {
		defer close(s.done)
		s.err = s.run(body, r)
	}()
	return s
}

// run copies body to the app, flushing as it goes so that a stream
// reaches the app as the client sends it. A failure to read the client's
// body closes the connection: the app's answer is then not awaited, and
// the request's error page says what happened to the body.
func (s *sender) run(body io.Reader, r *http.Request) error {
	buf := buffers.Get().(*[copyBufferSize]byte)
	defer buffers.Put(buf)
	w := io.Writer(s.u.bw)
	var chunked io.WriteCloser
	if r.ContentLength < 0 {
		chunked = httputil.NewChunkedWriter(s.u.bw)
		w = chunked
	}
	for {
		n, rerr := body.Read(buf[:])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return s.finish(err)
			}
			if err := s.u.bw.Flush(); err != nil {
				return s.finish(err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.u.Close()
			return rerr
		}
	}
	if chunked != nil {
		if err := lastChunk(s.u.bw, chunked, r.Trailer); err != nil {
			return s.finish(err)
		}
	}
	return s.finish(s.u.bw.Flush())
}

// lastChunk ends a chunked body with the client's trailers.
func lastChunk(bw *bufio.Writer, chunked io.Closer, trailer http.Header) error {
	if err := chunked.Close(); err != nil { // the zero-length chunk
		return err
	}
	if err := trailer.Write(bw); err != nil {
		return err
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// finish starts the wait for the response headers, unless they came
// already, and returns err. After a failed write the app may still answer
// (an app that refuses a body may close the connection after its
// answer), so the answer is still read.
func (s *sender) finish(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.headed {
		_ = s.u.SetReadDeadline(time.Now().Add(s.timeout)) // a failure shows in the read
	}
	return err
}

// answered records that the response headers arrived; nil-safe.
func (s *sender) answered() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headed = true
}

// finished reports whether the body, if any, was sent whole; nil-safe. It
// does not wait: a body still being sent when the answer has ended (an app
// that answered without reading it) means the connection cannot be
// reused.
func (s *sender) finished() bool {
	if s == nil {
		return true
	}
	select {
	case <-s.done:
		return s.err == nil
	default:
		return false
	}
}

// wait waits for the body to be sent and returns why it was not; nil-safe.
func (s *sender) wait() error {
	if s == nil {
		return nil
	}
	<-s.done
	return s.err
}
