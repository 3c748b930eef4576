// Package console prints what paas does for people: Heroku-style phase
// lines, indented details, warnings and durations. Machine-readable output
// (--json) goes elsewhere; everything here is for a human on stderr.
package console

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/secret"
)

// Indent is the prefix of detail lines under a phase line, as Heroku's.
const Indent = "       "

// Console writes human output. A nil *Console or one made with Quiet prints
// nothing but errors and warnings.
type Console struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	quiet bool
}

// New returns a console writing to w. Colours are used only when w is a
// terminal and NO_COLOR is unset (https://no-color.org).
func New(w io.Writer, quiet bool) *Console {
	return &Console{w: w, color: UseColor(w), quiet: quiet}
}

// UseColor reports whether output to w may carry ANSI colours.
func UseColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (c *Console) paint(code, s string) string {
	if !c.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// printf prints one of paas's own lines, with credentials in URLs
// removed (a buildpack reference may carry a token).
func (c *Console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.w, secret.Redact(fmt.Sprintf(format, args...)))
}

// Step prints a phase line: "-----> Detecting buildpacks".
func (c *Console) Step(format string, args ...any) {
	if c == nil || c.quiet {
		return
	}
	c.printf("%s %s\n", c.paint("1;36", "----->"), fmt.Sprintf(format, args...))
}

// Info prints an indented detail line under the current phase.
func (c *Console) Info(format string, args ...any) {
	if c == nil || c.quiet {
		return
	}
	c.printf("%s%s\n", Indent, fmt.Sprintf(format, args...))
}

// Warn prints a warning; warnings show even in quiet mode.
func (c *Console) Warn(format string, args ...any) {
	if c == nil {
		return
	}
	c.printf("%s %s\n", c.paint("1;33", " !    "), fmt.Sprintf(format, args...))
}

// Error prints an error the Heroku way, each line marked.
func (c *Console) Error(msg string) {
	if c == nil {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		c.printf("%s %s\n", c.paint("1;31", " !    "), line)
	}
}

// Done prints how long a phase took: "       Done in 1.2s".
func (c *Console) Done(what string, d time.Duration) {
	c.Info("%s in %s", what, Duration(d))
}

// Writer returns a writer for live output of a child process (buildpack
// scripts): lines pass through as they come, unless the console is quiet.
func (c *Console) Writer() io.Writer {
	if c == nil || c.quiet {
		return io.Discard
	}
	return lockedWriter{c}
}

type lockedWriter struct{ c *Console }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.w.Write(p)
}

// Duration formats d for people: 850ms, 4.2s, 1m12s.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// ShortDigest is the start of a digest ("sha256:" and 12 hex digits), as
// listings show it.
func ShortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// Size formats a byte count for people: 512 B, 3.4 MB.
func Size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// Warner returns a func(string) that prints warnings, for packages that
// report problems through a plain callback.
func (c *Console) Warner() func(string) {
	return func(msg string) { c.Warn("%s", msg) }
}
