package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/adhocore/gronx"

	"github.com/paas-dev/paas/console"
)

// CronEntry is one entry of app.json's `cron`, as Dokku reads it.
type CronEntry struct {
	Command  string `json:"command"`
	Schedule string `json:"schedule"`
}

// Clock is the time a deploy's cron entries follow; nil in Options is the
// real one.
type Clock interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// cronEntries reads and checks the image's app.json `cron`: each entry
// needs a command and a schedule of five fields (minute hour day month
// weekday) or a tag (@hourly, @daily, @weekly, @monthly, @yearly).
func cronEntries(m *manifest) ([]CronEntry, error) {
	if len(m.Cron) == 0 {
		return nil, nil
	}
	var entries []CronEntry
	if err := json.Unmarshal(m.Cron, &entries); err != nil {
		return nil, fmt.Errorf("%w: the image's app.json cron: %w (want [{\"command\": \"…\", \"schedule\": \"…\"}])", ErrFormation, err)
	}
	for i, e := range entries {
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%w: the image's app.json cron[%d]: %w", ErrFormation, i, err)
		}
	}
	return entries, nil
}

func (e CronEntry) check() error {
	fields := strings.Fields(e.Schedule)
	switch {
	case strings.TrimSpace(e.Command) == "":
		return fmt.Errorf("no command")
	case !fiveFieldsOrTag(fields) || !gronx.IsValid(e.Schedule):
		return fmt.Errorf("schedule %q: want five fields (minute hour day month weekday, such as \"*/15 * * * *\") or @hourly, @daily, @weekly, @monthly or @yearly", e.Schedule)
	}
	return nil
}

// fiveFieldsOrTag reports whether a schedule is five fields or one @tag:
// gronx also takes seconds and years, which cron does not.
func fiveFieldsOrTag(fields []string) bool {
	return len(fields) == 5 || len(fields) == 1 && strings.HasPrefix(fields[0], "@")
}

// next is the first time after t the entry is due, to the minute.
func (e CronEntry) next(t time.Time) (time.Time, error) {
	return gronx.NextTickAfter(e.Schedule, t.Truncate(time.Minute), false)
}

// cron runs a deploy's cron entries while it serves, each as a one-off
// process of the image, like `dokku run`. A run still going when its entry
// is due again is not doubled: that turn is skipped and logged.
type cron struct {
	entries []CronEntry
	clock   Clock
	con     *console.Console
	// run runs one entry's command to its end and returns its status;
	// out gets its output.
	run func(ctx context.Context, command string, out io.Writer) (int, error)
	out io.Writer
}

// serve runs the entries until ctx ends, then waits for the runs going.
func (c *cron) serve(ctx context.Context) {
	var wg sync.WaitGroup
	for i, e := range c.entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serveEntry(ctx, i+1, e)
		}()
	}
	wg.Wait()
}

// serveEntry runs entry n (from 1) at each time it is due.
func (c *cron) serveEntry(ctx context.Context, n int, e CronEntry) {
	name := fmt.Sprintf("cron.%d", n)
	var running sync.WaitGroup
	defer running.Wait()
	busy := make(chan struct{}, 1)
	for {
		due, err := e.next(c.clock.Now())
		if err != nil {
			c.con.Warn("%s (%s): %v; it will not run", name, e.Schedule, err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(due.Sub(c.clock.Now())):
		}
		select {
		case busy <- struct{}{}:
		default:
			c.con.Warn("%s (%s) is due but its last run is still going: skipped", name, e.Schedule)
			continue
		}
		running.Add(1)
		go func() {
			defer running.Done()
			c.runOnce(ctx, name, e, func() { <-busy })
		}()
	}
}

// runOnce runs one turn of an entry, calls ended as soon as it has, and
// logs how it ended.
func (c *cron) runOnce(ctx context.Context, name string, e CronEntry, ended func()) {
	start := c.clock.Now()
	c.con.Info("%s: running %s", name, e.Command)
	code, err := c.run(ctx, e.Command, console.NewPrefixer(c.out, name+" | "))
	ended()
	switch {
	case err != nil:
		c.con.Warn("%s: %v", name, err)
	case code != 0:
		c.con.Warn("%s: %s exited with status %d", name, e.Command, code)
	default:
		c.con.Info("%s: done in %s", name, console.Duration(c.clock.Now().Sub(start)))
	}
}
