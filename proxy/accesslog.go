package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

const (
	// maxPendingLog bounds the access-log lines waiting to be written,
	// about 5000 lines: past it, lines are dropped and counted.
	maxPendingLog = 1 << 20
	// logGather is how long the writer lets lines gather before it writes
	// them: waking it for every line would cost more than the write.
	logGather = 5 * time.Millisecond
	// logFlushGrace bounds how long Serve waits, when it returns, for the
	// lines still waiting to be written.
	logFlushGrace = 5 * time.Second
)

// accessLog writes access-log lines to its writer from a goroutine of its
// own, so that requests never wait for the log. Lines are gathered for
// logGather, and while a write is in progress, and written together in one
// Write, in the order they came; a goroutine runs only while lines come. If
// the writer falls behind by maxPendingLog bytes, new lines are dropped
// until it catches up, and a line saying how many were lost takes their
// place.
type accessLog struct {
	w io.Writer

	mu      sync.Mutex
	pending []byte // lines waiting for the writer
	spare   []byte // the buffer last written, reused for pending
	dropped int    // lines dropped since the last write
	writing bool   // the writing goroutine runs
}

// newAccessLog returns a log writing to w.
func newAccessLog(w io.Writer) *accessLog {
	return &accessLog{w: w}
}

// add queues line, which ends in a newline; it never blocks on the writer.
func (l *accessLog) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)+len(line) > maxPendingLog {
		l.dropped++
		return
	}
	l.pending = append(l.pending, line...)
	if !l.writing {
		l.writing = true
		go l.run()
	}
}

// run writes the waiting lines, logGather apart, until none came in the
// meantime.
func (l *accessLog) run() {
	for {
		time.Sleep(logGather)
		batch := l.take()
		if batch == nil {
			return
		}
		_, _ = l.w.Write(batch) // a broken log must not fail requests
		l.mu.Lock()
		l.spare = batch
		l.mu.Unlock()
	}
}

// take returns the waiting lines, with a note of those dropped, leaving
// the spare buffer to gather the next ones; nil when none are waiting,
// the writing goroutine then ending.
func (l *accessLog) take() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		l.pending = fmt.Appendf(l.pending, "access log: %d lines dropped: the log could not keep up\n", l.dropped)
		l.dropped = 0
	}
	if len(l.pending) == 0 {
		l.writing = false
		return nil
	}
	batch := l.pending
	l.pending, l.spare = l.spare[:0], nil
	return batch
}

// flush waits until no line is waiting, or ctx ends. It polls: it runs
// once, when Serve returns, and requests need not pay for waking it.
func (l *accessLog) flush(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		writing := l.writing
		l.mu.Unlock()
		if !writing {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// logExchange queues x's access-log line, in logfmt like Heroku's router:
//
//	time=2025-01-02T15:04:05.000Z method=GET path="/a?b=1" host="shop.example" status=200 bytes=512 duration=1.234ms request_id=0f1e... fwd="203.0.113.9"
//
// with error="..." added when the app could not be reached.
func (p *Proxy) logExchange(x *exchange, r *http.Request) {
	if p.log == nil {
		return
	}
	var buf [512]byte
	b := append(buf[:0], "time="...)
	b = x.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, " method="...)
	b = append(b, r.Method...)
	b = append(b, " path="...)
	b = appendQuotedURI(b, r.URL)
	b = append(b, " host="...)
	b = strconv.AppendQuote(b, r.Host)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(x.status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, x.bytes, 10)
	b = append(b, " duration="...)
	b = append(b, time.Since(x.start).Round(time.Microsecond).String()...)
	b = append(b, " request_id="...)
	b = append(b, x.id...)
	b = append(b, " fwd="...)
	b = strconv.AppendQuote(b, clientIP(r))
	if x.err != nil {
		b = append(b, " error="...)
		b = strconv.AppendQuote(b, x.err.Error())
	}
	p.log.add(append(b, '\n'))
}

// appendQuotedURI appends u.RequestURI() quoted, without building that
// string: the path and the query are quoted apart and the quotes between
// them dropped, which gives the same as quoting them joined, since '?'
// ends any UTF-8 sequence before it.
func appendQuotedURI(b []byte, u *url.URL) []byte {
	if u.Opaque != "" {
		return strconv.AppendQuote(b, u.RequestURI())
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	b = strconv.AppendQuote(b, path)
	if u.RawQuery == "" && !u.ForceQuery {
		return b
	}
	b = append(b[:len(b)-1], '?') // the closing quote
	query := len(b)
	b = strconv.AppendQuote(b, u.RawQuery)
	return append(b[:query], b[query+1:]...) // the opening quote
}
