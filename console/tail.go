package console

import (
	"bytes"
	"strings"
	"sync"
)

// Tail is an io.Writer that keeps the last N complete lines written to it,
// so a failed buildpack's final output can be repeated in the error. Each
// line keeps at most MaxLineBytes: a script printing megabytes without a
// newline costs neither memory nor time.
type Tail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	cut     bool // the partial line was longer than MaxLineBytes
}

// MaxLineBytes is how much of one line a Tail keeps.
const MaxLineBytes = 1024

// NewTail returns a Tail keeping n lines.
func NewTail(n int) *Tail { return &Tail{max: n} }

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.extend(p)
			return n, nil
		}
		t.extend(p[:i])
		t.add(t.line())
		t.partial, t.cut = t.partial[:0], false
		p = p[i+1:]
	}
}

// extend adds b to the partial line, up to MaxLineBytes.
func (t *Tail) extend(b []byte) {
	if room := MaxLineBytes - len(t.partial); len(b) > room {
		b, t.cut = b[:max(room, 0)], true
	}
	t.partial = append(t.partial, b...)
}

// line is the partial line as kept, marked when it was cut.
func (t *Tail) line() string {
	if t.cut {
		return string(t.partial) + " …"
	}
	return string(t.partial)
}

func (t *Tail) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// Lines returns the kept lines, including an unfinished last line.
func (t *Tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		out = append(out, t.line())
	}
	if len(out) > t.max {
		out = out[len(out)-t.max:]
	}
	return out
}

// Quote formats the last lines for an error message about the process
// that wrote them: "; its last output:" and the lines, indented; "" when
// there were none.
func (t *Tail) Quote() string {
	lines := t.Lines()
	if len(lines) == 0 {
		return ""
	}
	return "; its last output:\n" + Indent + strings.Join(lines, "\n"+Indent)
}
