// Package supervisor keeps one process type of an image serving behind the
// proxy, the way Dokku does after a deploy: it starts a process on a free
// port, lets traffic reach it only once its checks pass, restarts it when
// it crashes, replaces it with a new version without dropping a request,
// and stops it gracefully.
package supervisor

import (
	"context"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/runner"
)

// Failure classes, for exit codes.
var (
	// ErrNotReady: a process never passed its checks.
	ErrNotReady = fault.New(fault.NotReady, "process not ready")
	// ErrCrashLoop: a process kept crashing past the restart policy.
	ErrCrashLoop = fault.New(fault.CrashLoop, "process keeps crashing")
)

// Restart says what happens when a process exits by itself.
type Restart struct {
	// OnFailure restarts a process that exits with a non-zero status.
	OnFailure bool
	// Max bounds the restarts in a row (reset once a process has stayed up
	// for a minute); 0 means no bound.
	Max int
}

// Router is what a Supervisor needs of the proxy in front of a web
// process; *proxy.Proxy is one.
type Router interface {
	// Switch sends new requests to addr ("127.0.0.1:PORT") and returns the
	// backend they went to before, nil if none, to be drained.
	Switch(addr string) *proxy.Backend
	// Unavailable answers new requests with a 503 page giving reason, and
	// returns the backend they went to before, nil if none.
	Unavailable(reason string) *proxy.Backend
}

var _ Router = (*proxy.Proxy)(nil)

// Options configure a Supervisor.
type Options struct {
	Runtime runner.Runtime
	// Proxy routes traffic to a web process, usually a *proxy.Proxy;
	// other process types never use it.
	Proxy Router
	// AppName names containers ("hello-web-1-…") and log lines.
	AppName string
	// ImageName is the name Resolve reads and containerd records.
	ImageName string
	// Resolve returns the image to run; it is called again for each
	// replacement, so a new build of the same name is picked up.
	Resolve func() (v1.Image, error)
	// Process is the process type to run ("web"). Only web processes
	// listen on $PORT, are checked and get traffic, as on Heroku and Dokku;
	// other types just run under the restart policy.
	Process string
	// Index and Count say that this supervisor keeps process Index (from
	// 1) of the Count of its type running: its processes are named
	// TYPE.Index, then TYPE.Index+Count, … for each replacement or
	// restart, so that the names of a formation never clash. Zero means 1
	// of 1.
	Index, Count int
	// Started, when not nil, is called once the first process runs (a web
	// one: once it passed its checks and receives traffic).
	Started func()
	// Restarted, when not nil, is called each time a process that exited
	// by itself is started again.
	Restarted func()
	// Replaced, when not nil, gets the result of each replacement Serve
	// was asked for: nil once the new process serves, else why the old
	// one still does.
	Replaced chan<- error
	// Env is added to the image's environment.
	Env []string
	// Checks decide when a process is ready; nil uses health's default.
	Checks        []health.Check
	ListenTimeout time.Duration
	Restart       Restart
	// Backoff returns the pause before the nth restart in a row (n counts
	// from 1); nil means DefaultBackoff.
	Backoff     func(n int) time.Duration
	StopTimeout time.Duration
	// Console gets paas's own status lines; Output the processes' logs.
	Console *console.Console
	Output  io.Writer
}

// Supervisor runs one process type. It is not safe for concurrent use:
// Serve owns it.
type Supervisor struct {
	o       Options
	seq     int
	current *instance
}

// instance is one started process.
type instance struct {
	name    string // "web.1"
	addr    string // 127.0.0.1:PORT
	proc    runner.Process
	tail    *console.Tail
	started time.Time
}

// New returns a supervisor; nothing starts until Serve.
func New(o Options) *Supervisor {
	o.Index, o.Count = max(o.Index, 1), max(o.Count, 1)
	return &Supervisor{o: o}
}

// Serve starts the first process and keeps the process type serving until
// ctx ends, replacing it on every value from replace. When ctx ends it
// stops the proxy's traffic to the process (the caller stops accepting),
// then stops the process. It returns an error when the first process never
// becomes ready or the restart policy gives up.
func (s *Supervisor) Serve(ctx context.Context, replace <-chan struct{}) error {
	if err := s.startFirst(ctx); err != nil {
		return err
	}
	restarts := 0
	for {
		select {
		case <-ctx.Done():
			return s.stop(s.current)
		case <-replace:
			err := s.replace(ctx)
			if s.o.Replaced != nil {
				s.o.Replaced <- err
			}
		case <-s.current.proc.Done():
			if ctx.Err() != nil {
				return s.stop(s.current)
			}
			var err error
			if restarts, err = s.recover(ctx, restarts); err != nil {
				return err
			}
		}
	}
}

// startFirst starts the first process and routes traffic to it.
func (s *Supervisor) startFirst(ctx context.Context) error {
	in, err := s.startReady(ctx)
	if err != nil {
		return err
	}
	s.current = in
	s.route(in)
	if s.o.Started != nil {
		s.o.Started()
	}
	return nil
}

// web reports whether the process type serves HTTP.
func (s *Supervisor) web() bool { return s.o.Process == "web" }

// route sends traffic to a ready web process.
func (s *Supervisor) route(in *instance) {
	if !s.web() {
		s.o.Console.Step("%s is running", in.name)
		return
	}
	s.o.Proxy.Switch(in.addr)
	s.o.Console.Step("%s is ready on %s and receives traffic", in.name, in.addr)
}

// recover handles a process that exited by itself: restart it per the
// policy, with a backoff, showing a 503 page meanwhile.
func (s *Supervisor) recover(ctx context.Context, restarts int) (int, error) {
	dead := s.current
	exit := dead.proc.Exit()
	if s.web() {
		s.o.Proxy.Unavailable(fmt.Sprintf("%s exited with status %d and is restarting", dead.name, exit.Code))
	}
	_ = dead.proc.Stop(context.WithoutCancel(ctx), s.o.StopTimeout)
	if time.Since(dead.started) > time.Minute {
		restarts = 0
	}
	if !s.o.Restart.OnFailure || exit.Code == 0 {
		return restarts, fmt.Errorf("%w: %s exited with status %d%s", ErrCrashLoop, dead.name, exit.Code, dead.tail.Quote())
	}
	if s.o.Restart.Max > 0 && restarts >= s.o.Restart.Max {
		return restarts, fmt.Errorf("%w: %s exited with status %d after %d restarts%s", ErrCrashLoop, dead.name, exit.Code, restarts, dead.tail.Quote())
	}
	restarts++
	wait := s.backoff(restarts)
	s.o.Console.Warn("%s exited with status %d; restart %d in %s", dead.name, exit.Code, restarts, wait)
	select {
	case <-ctx.Done():
		return restarts, nil
	case <-time.After(wait):
	}
	if s.o.Restarted != nil {
		s.o.Restarted()
	}
	in, err := s.startReady(ctx)
	if err != nil {
		return restarts, err
	}
	s.current = in
	s.route(in)
	return restarts, nil
}

// DefaultBackoff is 1s, 2s, 4s, … up to 30s before the nth restart.
func DefaultBackoff(n int) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

// backoff is the pause before the nth restart in a row.
func (s *Supervisor) backoff(n int) time.Duration {
	if s.o.Backoff != nil {
		return s.o.Backoff(n)
	}
	return DefaultBackoff(n)
}

// replace starts a new process from the image as it is now, switches the
// proxy to it once it is ready, then drains and stops the old one. If the
// new process fails its checks, the old one keeps serving, and the error
// says why.
func (s *Supervisor) replace(ctx context.Context) error {
	s.o.Console.Step("Replacing %s", s.current.name)
	in, err := s.startReady(ctx)
	if err != nil {
		s.o.Console.Warn("replacement failed, %s keeps serving: %v", s.current.name, err)
		return fmt.Errorf("replacing %s: %w", s.current.name, err)
	}
	old := s.current
	s.current = in
	if !s.web() {
		s.route(in)
		_ = s.stop(old)
		return nil
	}
	prev := s.o.Proxy.Switch(in.addr)
	s.o.Console.Step("%s is ready on %s and receives traffic; draining %s", in.name, in.addr, old.name)
	if prev != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.StopTimeout)
		_ = prev.Drain(dctx)
		cancel()
	}
	_ = s.stop(old)
	return nil
}

// stop stops one process, SIGTERM then SIGKILL after the stop timeout.
func (s *Supervisor) stop(in *instance) error {
	if in == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.StopTimeout+30*time.Second)
	defer cancel()
	if err := in.proc.Stop(ctx, s.o.StopTimeout); err != nil {
		return fmt.Errorf("stopping %s: %w", in.name, err)
	}
	s.o.Console.Info("%s stopped (status %d)", in.name, in.proc.Exit().Code)
	return nil
}
