package deploy

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paas-dev/paas/console"
)

// fakeClock hands each wait to the test, which moves the time on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	fire := make(chan time.Time, 1)
	c.waits <- fakeWait{d, fire}
	return fire
}

// tick takes the next wait, checks it lasts want, and ends it.
func (c *fakeClock) tick(t *testing.T, want time.Duration) {
	t.Helper()
	select {
	case w := <-c.waits:
		if w.d != want {
			t.Errorf("waited %s, want %s", w.d, want)
		}
		c.mu.Lock()
		c.now = c.now.Add(w.d)
		now := c.now
		c.mu.Unlock()
		w.fire <- now
	case <-time.After(10 * time.Second):
		t.Fatal("the cron never waited")
	}
}

// cronUnder runs entries on a fake clock at start; each run reports its
// command and the clock's time on ran, then waits for release.
func cronUnder(t *testing.T, start time.Time, entries ...CronEntry) (clock *fakeClock, ran chan string, release chan struct{}, log *console.Tail) {
	t.Helper()
	clock = &fakeClock{now: start, waits: make(chan fakeWait)}
	ran, release, log = make(chan string, 10), make(chan struct{}), console.NewTail(100)
	c := &cron{
		entries: entries, clock: clock, con: console.New(log, false), out: io.Discard,
		run: func(ctx context.Context, command string, out io.Writer) (int, error) {
			ran <- command + " at " + clock.Now().Format("15:04")
			select {
			case <-release:
			case <-ctx.Done():
			}
			return 0, nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		// Waits the cron started after the test are let go.
		go func() {
			for w := range clock.waits {
				w.fire <- time.Time{}
			}
		}()
		<-done
	})
	return clock, ran, release, log
}

func TestCronRunsWhenDue(t *testing.T) {
	clock, ran, release, _ := cronUnder(t, time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC),
		CronEntry{Command: "./tick", Schedule: "* * * * *"})
	close(release)
	clock.tick(t, 30*time.Second)
	if got := <-ran; got != "./tick at 12:01" {
		t.Errorf("ran %q, want ./tick at 12:01", got)
	}
	clock.tick(t, time.Minute)
	if got := <-ran; got != "./tick at 12:02" {
		t.Errorf("ran %q, want ./tick at 12:02", got)
	}

	clock, ran, release, _ = cronUnder(t, time.Date(2026, 11, 30, 12, 7, 0, 0, time.UTC),
		CronEntry{Command: "./report", Schedule: "*/15 * * * *"})
	close(release)
	clock.tick(t, 8*time.Minute)
	if got := <-ran; got != "./report at 12:15" {
		t.Errorf("ran %q, want ./report at 12:15", got)
	}
}

// A run still going when its entry is due again is not doubled.
func TestCronSkipsOverlap(t *testing.T) {
	clock, ran, release, log := cronUnder(t, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		CronEntry{Command: "./slow", Schedule: "* * * * *"})
	clock.tick(t, time.Minute)
	<-ran
	clock.tick(t, time.Minute)
	clock.tick(t, time.Minute)
	// Both turns are skipped, logged before the run ends.
	skip := "cron.1 (* * * * *) is due but its last run is still going: skipped"
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(strings.Join(log.Lines(), "\n"), skip) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("two skips not logged:\n%s", strings.Join(log.Lines(), "\n"))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case got := <-ran:
		t.Errorf("ran %q while the first run was still going", got)
	default:
	}
	release <- struct{}{}
	for !strings.Contains(strings.Join(log.Lines(), "\n"), "cron.1: done in") {
		if time.Now().After(deadline) {
			t.Fatalf("the run's end not logged:\n%s", strings.Join(log.Lines(), "\n"))
		}
		time.Sleep(time.Millisecond)
	}
	clock.tick(t, time.Minute)
	if got := <-ran; got != "./slow at 12:04" {
		t.Errorf("after the slow run ended, ran %q, want ./slow at 12:04", got)
	}
	close(release)
}

func TestCronEntryCheck(t *testing.T) {
	for _, e := range []CronEntry{
		{Command: "x", Schedule: "*/5 * * * *"},
		{Command: "x", Schedule: "0 3 * * 1-5"},
		{Command: "x", Schedule: "@daily"},
	} {
		if err := e.check(); err != nil {
			t.Errorf("%+v: %v", e, err)
		}
	}
	for _, e := range []CronEntry{
		{Command: "", Schedule: "* * * * *"},
		{Command: "x", Schedule: "* * * *"},
		{Command: "x", Schedule: "0 * * * * *"},
		{Command: "x", Schedule: "61 * * * *"},
		{Command: "x", Schedule: "@sometimes"},
	} {
		if err := e.check(); err == nil {
			t.Errorf("%+v: accepted", e)
		}
	}
	if _, err := cronEntries(manifestOf(t, `{"cron": [{"command": "x", "schedule": "nope"}]}`)); !errors.Is(err, ErrFormation) || !strings.Contains(err.Error(), "cron[0]") {
		t.Errorf("cronEntries(bad schedule) = %v, want ErrFormation naming cron[0]", err)
	}
	got, err := cronEntries(manifestOf(t, `{"cron": [{"command": "./a", "schedule": "@hourly"}]}`))
	if err != nil || len(got) != 1 || got[0].Command != "./a" {
		t.Errorf("cronEntries() = %v, %v", got, err)
	}
}
