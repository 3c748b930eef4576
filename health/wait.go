package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

const (
	// pollInterval spaces the connection attempts while waiting for the
	// port; a refused loopback connection costs next to nothing.
	pollInterval = 50 * time.Millisecond
	// maxBody bounds what a check reads of an answer to look for Content.
	maxBody = 1 << 20
)

// Option changes how Wait runs; it returns an error (wrapping
// ErrInvalidOption) when its value is unusable.
type Option func(*options) error

// ErrInvalidOption reports an Option given an unusable value.
var ErrInvalidOption = errors.New("invalid health option")

type options struct {
	listenTimeout time.Duration
	log           io.Writer
}

// newOptions applies opts to the defaults.
func newOptions(opts []Option) (options, error) {
	o := options{listenTimeout: DefaultListenTimeout, log: io.Discard}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithListenTimeout bounds the wait for the port to accept connections;
// the default is DefaultListenTimeout.
func WithListenTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: listen timeout %s: want a positive duration", ErrInvalidOption, d)
		}
		o.listenTimeout = d
		return nil
	}
}

// WithLog makes Wait write a line per check and per failed attempt to w,
// as Dokku shows its checks' progress during a deploy. Failures of checks
// marked Warn go there too. Nothing is written by default.
func WithLog(w io.Writer) Option {
	return func(o *options) error {
		if w == nil {
			return fmt.Errorf("%w: nil log writer", ErrInvalidOption)
		}
		o.log = w
		return nil
	}
}

// Wait returns nil once the process behind addr ("host:port") is ready:
// its port accepts connections and every check passes, in order. With no
// checks it runs DefaultCheck. It gives up as soon as exited is closed
// (the process died; nil means never) or ctx ends. The error says what
// failed; it matches ErrExited or ErrNotListening, or is a *Status for a
// failed HTTP check.
func Wait(ctx context.Context, addr string, checks []Check, exited <-chan struct{}, opts ...Option) error {
	started := time.Now()
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	ctx, stop := watchExit(ctx, exited)
	defer stop(nil)
	if err := waitListening(ctx, addr, o.listenTimeout); err != nil {
		return err
	}
	if len(checks) == 0 {
		checks = []Check{DefaultCheck()}
	}
	r := runner{opts: o, addr: addr, started: started, client: newClient()}
	for _, c := range checks {
		if err := r.run(ctx, c.withDefaults()); err != nil {
			return err
		}
	}
	if hasExited(exited) {
		// The last check may have passed a moment before the process died;
		// traffic must not go to it.
		return fmt.Errorf("%w right after its checks passed", ErrExited)
	}
	return nil
}

// watchExit returns a context that also ends, with cause ErrExited, when
// exited is closed, so every wait below stops at once when the process
// dies. A process already dead ends it before watchExit returns.
func watchExit(ctx context.Context, exited <-chan struct{}) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if hasExited(exited) {
		cancel(ErrExited)
		return ctx, cancel
	}
	if exited != nil {
		go func() {
			select {
			case <-exited:
				cancel(ErrExited)
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// hasExited reports whether exited is closed, without waiting.
func hasExited(exited <-chan struct{}) bool {
	select {
	case <-exited:
		return true
	default:
		return false
	}
}

// stopped returns why ctx ended: ErrExited if the process died, else the
// context's error; nil while ctx is live.
func stopped(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrExited) {
		return ErrExited
	}
	return ctx.Err()
}

// waitListening polls addr until it accepts a TCP connection.
func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for dial(lctx, addr) != nil {
		if err := pause(lctx, pollInterval); err != nil {
			return listenError(ctx, addr, timeout)
		}
	}
	return nil
}

// listenError explains why the port was never seen accepting.
func listenError(ctx context.Context, addr string, timeout time.Duration) error {
	if err := stopped(ctx); err != nil {
		return fmt.Errorf("%w before port %s accepted connections", err, port(addr))
	}
	return fmt.Errorf("port %s %w within %s", port(addr), ErrNotListening, fmtDuration(timeout))
}

// dial opens and closes one TCP connection to addr.
func dial(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// pause waits for d, or returns the reason ctx ended first.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return stopped(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return stopped(ctx)
	}
}

// port returns the port of addr, or addr when it has none.
func port(addr string) string {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		return p
	}
	return addr
}

// newClient returns the HTTP client for checks. It does not follow
// redirects, since a check answering 302 to a login page is not healthy,
// and does not verify https certificates: the check dials the process by
// IP address, which the app's certificate never names. Proxy is nil so
// HTTP_PROXY in the environment never applies to loopback checks.
func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runner runs checks against one process.
type runner struct {
	opts    options
	addr    string
	started time.Time
	client  *http.Client
}

// run runs one check; a failure of a Warn check is only logged.
func (r *runner) run(ctx context.Context, c Check) error {
	err := r.runCheck(ctx, c)
	if err != nil && c.Warn && !errors.Is(err, ErrExited) && ctx.Err() == nil {
		r.logf("warning: %v (the check is marked warn, continuing)", err)
		return nil
	}
	return err
}

// runCheck waits for c's uptime, then runs its HTTP part.
func (r *runner) runCheck(ctx context.Context, c Check) error {
	if c.Uptime > 0 {
		if err := r.uptime(ctx, c); err != nil {
			return err
		}
	}
	if c.Path == "" {
		return nil
	}
	return r.httpCheck(ctx, c)
}

// uptime waits until the process has been up c.Uptime and checks that
// its port still accepts connections.
func (r *runner) uptime(ctx context.Context, c Check) error {
	if err := pause(ctx, c.Uptime-time.Since(r.started)); err != nil {
		up := time.Since(r.started).Round(100 * time.Millisecond)
		return fmt.Errorf("%w after %s, before %s (uptime %s) passed", err, up, c.label(), fmtDuration(c.Uptime))
	}
	if err := dial(ctx, r.addr); err != nil {
		return fmt.Errorf("%s: port %s stopped accepting connections: %w", c.label(), port(r.addr), err)
	}
	r.logf("%s passed: the process stayed up %s", c.label(), fmtDuration(c.Uptime))
	return nil
}

// target returns the URL c GETs.
func (r *runner) target(c Check) string {
	hostport := r.addr
	if c.Port != 0 {
		host, _, _ := net.SplitHostPort(r.addr)
		hostport = net.JoinHostPort(host, strconv.Itoa(c.Port))
	}
	return c.Scheme + "://" + hostport + c.Path
}

// logf writes one progress line.
func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.opts.log, format+"\n", args...)
}
