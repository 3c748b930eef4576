package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/runner"
	"github.com/paas-dev/paas/supervisor"
)

// Serve runs o.Image's predeploy script and release phase, then its
// formation (formationOf) until ctx ends: its web processes behind a proxy
// accepting on ln, the others beside them. Then it drains requests and
// stops the processes. SIGHUP, or Replace from another process, runs the
// predeploy script and release phase of the image the name gives now,
// then replaces the processes one after another without downtime. Serve
// closes ln; without web processes it serves nothing on it.
func Serve(ctx context.Context, h *home.Home, ln net.Listener, o Options) error {
	d, err := newDeployment(ctx, h, o)
	if err != nil {
		ln.Close()
		return err
	}
	defer d.close()
	if d.serving, err = h.ClaimServing(d.target.key); err != nil {
		ln.Close()
		return err
	}
	defer d.serving.Release()
	img, err := d.predeploy(ctx, d.target.img, d.scripts)
	if err == nil {
		d.image.Store(&img)
		err = d.releasePhase(ctx, img)
	}
	if err != nil {
		ln.Close()
		return err
	}
	return d.serve(ctx, ln)
}

// deployment is one Serve: the image, its formation, and a supervisor per
// process of it.
type deployment struct {
	o         Options
	home      *home.Home
	target    *target
	formation Formation
	rt        runner.Runtime
	px        *proxy.Proxy       // nil without web processes
	cert      *proxy.Certificate // nil without TLS
	sups      []*slot
	cron      *cron         // nil without cron entries
	scripts   deployScripts // of the image first deployed
	serving   *home.Serving
	url       string // where the proxy listens
	startedAt time.Time
	restarts  atomic.Int32
	// pending counts the processes not yet started; up is closed when
	// none is left.
	pending atomic.Int32
	up      chan struct{}
	// image is what new processes run, restarts included: the image whose
	// release phase ran last.
	image atomic.Pointer[v1.Image]
}

// slot is one process of the formation under its supervisor.
type slot struct {
	sup      *supervisor.Supervisor
	replace  chan struct{}
	replaced chan error
}

func newDeployment(ctx context.Context, h *home.Home, o Options) (*deployment, error) {
	t, err := openTarget(h, o.Image)
	if err != nil {
		return nil, err
	}
	d := &deployment{o: o, home: h, target: t, up: make(chan struct{}), startedAt: time.Now()}
	d.image.Store(&t.img)
	m, err := readManifest(t.img)
	if err != nil {
		return nil, err
	}
	if d.formation, err = formationOf(t.img, m, o); err != nil {
		return nil, err
	}
	if d.formation["web"] > 0 {
		popts := proxy.Options{
			AccessLog: o.Console.Writer(), Name: t.name, ShutdownGrace: o.StopTimeout, MaxConnections: o.MaxConnections,
		}
		if o.TLSCert != "" {
			cert, err := proxy.LoadCertificate(o.TLSCert, o.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrTLS, err)
			}
			popts.TLS = &proxy.TLS{Certificate: cert, RedirectHTTP: o.RedirectHTTP}
			d.cert = cert
		}
		d.px = proxy.New(popts)
	}
	entries, err := cronEntries(m)
	if err != nil {
		return nil, err
	}
	if d.scripts, err = scriptsOf(m); err != nil {
		return nil, err
	}
	if d.rt, err = openRuntime(ctx, h, o); err != nil {
		return nil, err
	}
	if len(entries) > 0 {
		d.cron = d.newCron(entries)
	}
	for _, typ := range d.formation.Types() {
		if err := d.addSupervisors(typ, m); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

// addSupervisors adds the supervisors of the processes of type typ.
func (d *deployment) addSupervisors(typ string, m *manifest) error {
	var checks []health.Check
	if typ == "web" {
		c, err := readinessChecks(m, d.o, typ)
		if err != nil {
			return err
		}
		checks = c
	}
	n := d.formation[typ]
	for i := 1; i <= n; i++ {
		s := &slot{replace: make(chan struct{}), replaced: make(chan error, 1)}
		var router supervisor.Router
		if typ == "web" {
			router = d.px.Slot(fmt.Sprintf("%s.%d", typ, i))
		}
		s.sup = supervisor.New(supervisor.Options{
			Runtime: d.rt, Proxy: router, AppName: oci.Repository(d.target.name), ImageName: d.target.name,
			Resolve: d.current, Process: typ, Index: i, Count: n, Replaced: s.replaced, Started: d.started,
			Restarted: d.restarted,
			Env:       d.o.Env, Checks: checks, ListenTimeout: d.o.ListenTimeout,
			Restart: d.o.Restart, StopTimeout: d.o.StopTimeout, Console: d.o.Console, Output: d.o.Stdout,
		})
		d.sups = append(d.sups, s)
		d.pending.Add(1)
	}
	return nil
}

// restarted counts a restart of a crashed process, for paas ps.
func (d *deployment) restarted() {
	d.restarts.Add(1)
	d.recordStatus()
}

// started counts one more process of the formation up.
func (d *deployment) started() {
	if d.pending.Add(-1) == 0 {
		close(d.up)
	}
}

// whenUp, once every process of the formation has started, tells systemd
// and runs the postdeploy script.
func (d *deployment) whenUp(ctx context.Context) {
	select {
	case <-d.up:
	case <-ctx.Done():
		return
	}
	notify("READY=1")
	img, _ := d.current()
	d.postdeploy(ctx, img, d.scripts)
}

// newCron runs entries as one-offs of the current image, with sh -c.
func (d *deployment) newCron(entries []CronEntry) *cron {
	clock := d.o.Clock
	if clock == nil {
		clock = realClock{}
	}
	for i, e := range entries {
		d.o.Console.Info("cron.%d: %s at %q", i+1, e.Command, e.Schedule)
	}
	return &cron{
		entries: entries, clock: clock, con: d.o.Console, out: d.o.Stdout,
		run: func(ctx context.Context, command string, out io.Writer) (int, error) {
			img, _ := d.current()
			return runOnce(ctx, d.rt, d.target, img, []string{"sh", "-c", command}, d.o, out)
		},
	}
}

// current returns the image new processes run.
func (d *deployment) current() (v1.Image, error) { return *d.image.Load(), nil }

func (d *deployment) close() {
	if d.rt != nil {
		d.rt.Close()
	}
}

// serve runs the proxy and the supervisors together. When ctx ends the
// proxy stops accepting and finishes in-flight requests while the
// supervisors stop their processes. When one supervisor fails (a process
// never ready, or crashing past the restart policy) the others stop too.
func (d *deployment) serve(ctx context.Context, ln net.Listener) error {
	hup := replaceOnHangup()
	defer signal.Stop(hup.signals)
	proxied := make(chan error, 1)
	proxyCtx, stopProxy := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProxy()
	if d.px != nil {
		go func() { proxied <- d.px.Serve(proxyCtx, ln) }()
		scheme := "http"
		if d.cert != nil {
			scheme = "https"
		}
		d.url = fmt.Sprintf("%s://%s", scheme, ln.Addr())
		d.o.Console.Step("Serving %s (%s) on %s", d.target.name, d.formation, d.url)
	} else {
		ln.Close()
		proxied <- nil
		d.o.Console.Step("Running %s (%s); no web process, so no proxy", d.target.name, d.formation)
	}
	d.recordStatus()
	supCtx, stopSups := context.WithCancel(ctx)
	defer stopSups()
	supErrs := make(chan error, len(d.sups))
	for _, s := range d.sups {
		go func() { supErrs <- s.sup.Serve(supCtx, s.replace) }()
	}
	// What runs one-offs (postdeploy, a replacement's predeploy and release
	// phase, cron) is waited for: each stops its container when supCtx
	// ends, and paas must not exit before, or the container is left behind.
	var oneOffs sync.WaitGroup
	defer oneOffs.Wait()
	oneOffs.Go(func() { d.rollOnRequest(supCtx, hup.requests) })
	oneOffs.Go(func() { d.whenUp(supCtx) })
	if d.cron != nil {
		oneOffs.Go(func() { d.cron.serve(supCtx) })
	}
	var err error
	select {
	case err = <-supErrs:
		// One failed: the others stop, then the proxy.
		stopSups()
		err = errors.Join(err, d.waitSupervisors(supErrs, 1))
		stopProxy()
		err = errors.Join(err, <-proxied)
	case <-ctx.Done():
		notify("STOPPING=1")
		d.o.Console.Step("Stopping: draining requests, then the processes")
		stopProxy()
		perr := <-proxied
		stopSups()
		err = errors.Join(d.waitSupervisors(supErrs, 0), perr)
	}
	if err == nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// waitSupervisors collects what the supervisors not yet done return.
func (d *deployment) waitSupervisors(errs <-chan error, done int) error {
	var all error
	for range len(d.sups) - done {
		all = errors.Join(all, <-errs)
	}
	return all
}
