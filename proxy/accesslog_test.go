package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stuckWriter is a log destination that takes nothing until released,
// then records what it is given.
type stuckWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
}

func (w *stuckWriter) Write(b []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(b)
}

func TestAccessLogKeepsOrderAndCountsWhatItDrops(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	l := newAccessLog(w)
	line := func(i int) []byte { return fmt.Appendf(nil, "line=%d %s\n", i, strings.Repeat("x", 100)) }
	const total = 20000 // about 2 MiB: more than the log holds while stuck
	for i := range total {
		l.add(line(i)) // must not block while the writer is stuck
	}
	close(w.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.flush(ctx)

	w.mu.Lock()
	out := w.buf.String()
	w.mu.Unlock()
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	dropped := regexp.MustCompile(`^access log: (\d+) lines dropped: the log could not keep up$`)
	next, lost, notes := 0, 0, 0
	for _, g := range got {
		if m := dropped.FindStringSubmatch(g); m != nil {
			n, _ := strconv.Atoi(m[1])
			lost += n
			notes++
			continue
		}
		var i int
		if _, err := fmt.Sscanf(g, "line=%d", &i); err != nil || i < next {
			t.Fatalf("line %q out of order after line=%d", g, next-1)
		}
		if i > next && notes == 0 {
			t.Fatalf("line=%d follows line=%d with no note of the lines dropped", i, next-1)
		}
		next = i + 1
	}
	written := len(got) - notes
	if notes == 0 || written+lost != total {
		t.Errorf("%d lines written and %d counted dropped in %d notes, want %d in all and a note", written, lost, notes, total)
	}
	if written*len(line(0)) < maxPendingLog/2 {
		t.Errorf("only %d lines written of %d, want the log to hold about %d bytes", written, total, maxPendingLog)
	}
}

func TestAccessLogWritesBatches(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	l := newAccessLog(w)
	for i := range 100 {
		l.add(fmt.Appendf(nil, "line=%d\n", i))
	}
	close(w.release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.flush(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.writes > 2 {
		t.Errorf("100 lines queued behind a slow write took %d writes, want them gathered into at most 2", w.writes)
	}
	if n := strings.Count(w.buf.String(), "\n"); n != 100 {
		t.Errorf("%d lines written, want 100", n)
	}
}

func TestAppendQuotedURI(t *testing.T) {
	for _, in := range []string{"/", "/a/b", "/a?b=1", "/x?", "/caf%C3%A9?q=\xc3", "/p?q=\"quoted\"&r=\\", "http://host", "/%zz?%zz", "*"} {
		u, err := url.ParseRequestURI(in)
		if err != nil {
			continue
		}
		if got, want := string(appendQuotedURI(nil, u)), strconv.Quote(u.RequestURI()); got != want {
			t.Errorf("appendQuotedURI(%q) = %s, want %s", in, got, want)
		}
	}
}
