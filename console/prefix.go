package console

import (
	"bytes"
	"io"
	"slices"
	"sync"
)

// Prefixer is an io.Writer that starts every line with a prefix, the way
// process logs are shown ("web.1 | listening on 5000"). Whole lines are
// written with one Write each, so lines of several processes sharing one
// destination never interleave mid-line.
type Prefixer struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  []byte
	partial []byte
}

// NewPrefixer returns a writer that prefixes each line written to w.
func NewPrefixer(w io.Writer, prefix string) *Prefixer {
	return &Prefixer{w: w, prefix: []byte(prefix)}
}

func (p *Prefixer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data := slices.Concat(p.partial, b)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte(nil), p.prefix...), data[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return len(b), nil
		}
		data = data[i+1:]
	}
	p.partial = append([]byte(nil), data...)
	return len(b), nil
}

// Flush writes an unfinished last line, if any.
func (p *Prefixer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		_, _ = p.w.Write(append(append(append([]byte(nil), p.prefix...), p.partial...), '\n'))
		p.partial = nil
	}
}
