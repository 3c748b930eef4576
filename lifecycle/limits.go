package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/paas-dev/paas/console"
)

// Default limits. detect and release only look at the app and print a few
// lines, so minutes mean a hung script; compile downloads and builds, so
// only the whole build's Options.Timeout bounds it.
const (
	DefaultTimeout        = 60 * time.Minute
	DefaultDetectTimeout  = 5 * time.Minute
	DefaultReleaseTimeout = 5 * time.Minute
)

// Caps on what paas keeps of a script's stdout. detect names a framework in
// one line and release prints a small YAML document; export's environment
// is larger but still bounded. Output past a cap is an error, not memory.
const (
	maxDetectOutput  = 64 << 10
	maxReleaseOutput = 1 << 20
	maxExportOutput  = 4 << 20
)

// ErrOutputTooLong reports a script that printed more than paas keeps.
var ErrOutputTooLong = errors.New("printed more than paas reads")

// cappedBuffer keeps at most max bytes written to it. Past that it calls
// stop once, which ends the script: one printing without end must not run
// until its time limit.
type cappedBuffer struct {
	mu   sync.Mutex
	buf  []byte
	max  int
	over bool
	stop func()
}

func newCappedBuffer(limit int, stop func()) *cappedBuffer {
	return &cappedBuffer{max: limit, stop: stop}
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - len(c.buf)
	if len(p) > room {
		if !c.over && c.stop != nil {
			c.stop()
		}
		c.over = true
		c.buf = append(c.buf, p[:max(room, 0)]...)
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// bytes returns what was kept, or ErrOutputTooLong when the cap was hit.
func (c *cappedBuffer) bytes() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return nil, fmt.Errorf("%w (%d bytes)", ErrOutputTooLong, c.max)
	}
	return c.buf, nil
}

// withLimit returns ctx bounded by d (none when d <= 0).
func withLimit(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// timedOut reports whether ctx, made by withLimit from parent, ran out of
// its own time while parent did not.
func timedOut(ctx, parent context.Context) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil
}

// cappedScript runs the buildpack's bin/NAME keeping at most limit bytes of
// its stdout (printing more calls stop and gives overErr) and the last
// tailLines lines of its stderr.
func (b *build) cappedScript(ctx context.Context, stop func(), bp *prepared, name string, limit, tailLines int) (out []byte, overErr error, tail *console.Tail, err error) {
	stdout := newCappedBuffer(limit, stop)
	tail = console.NewTail(tailLines)
	err = b.script(ctx, bp, name, stdout, tail)
	out, overErr = stdout.bytes()
	return out, overErr, tail, err
}
