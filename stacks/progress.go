package stacks

import (
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
)

// maxLine bounds a buffered output line, so a tool printing without
// newlines cannot make memory grow.
const maxLine = 4096

// progress turns a tool's output into lines prefixed with the time since
// the start, like "       [12s] I: downloading packages with apt...", and
// remembers the last few for error messages.
type progress struct {
	w     io.Writer
	start time.Time
	line  []byte
	last  []string
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, start: time.Now()}
}

// Write splits p into lines; a carriage return ends a line too, since
// progress meters redraw with it.
func (p *progress) Write(b []byte) (int, error) {
	for _, c := range b {
		if c == '\n' || c == '\r' {
			p.flush()
			continue
		}
		p.line = append(p.line, c)
		if len(p.line) >= maxLine {
			p.flush()
		}
	}
	return len(b), nil
}

// flush emits the buffered partial line, if any.
func (p *progress) flush() {
	if len(p.line) == 0 {
		return
	}
	s := string(p.line)
	p.line = p.line[:0]
	p.last = append(p.last, s)
	if len(p.last) > stderrTail {
		p.last = p.last[1:]
	}
	p.emit(s)
}

func (p *progress) tail() []string { return append([]string(nil), p.last...) }

func (p *progress) emit(s string) {
	elapsed := fmt.Sprintf("[%ds]", int(time.Since(p.start).Seconds()))
	fmt.Fprintf(p.w, "%12s %s\n", elapsed, s)
}

func (p *progress) linef(format string, args ...any) { p.emit(fmt.Sprintf(format, args...)) }

// layerDone reports the size and digest of the image's only layer.
func (p *progress) layerDone(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return err
	}
	size, err := layers[0].Size()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	p.linef("layer %s compressed, image %s", console.Size(size), digest)
	return nil
}
