package deploy

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/supervisor"
)

// Serve runs o.Image's process behind a proxy accepting on ln until ctx
// ends, then drains requests and stops the process. SIGHUP, or Replace
// from another process, replaces the process without downtime. Serve
// closes ln.
func Serve(ctx context.Context, h *home.Home, ln net.Listener, o Options) error {
	t, err := openTarget(h, o.Image)
	if err != nil {
		ln.Close()
		return err
	}
	checks, err := readinessChecks(t.img, o)
	if err != nil {
		ln.Close()
		return err
	}
	rt, err := openRuntime(ctx, h, o)
	if err != nil {
		ln.Close()
		return err
	}
	defer rt.Close()
	release, err := h.ClaimServing(t.key)
	if err != nil {
		ln.Close()
		return err
	}
	defer release()
	px := proxy.New(proxy.Options{
		AccessLog: o.Console.Writer(), Name: t.name, ShutdownGrace: o.StopTimeout, MaxConnections: o.MaxConnections,
	})
	sup := supervisor.New(supervisor.Options{
		Runtime: rt, Proxy: px, AppName: oci.Repository(t.name), ImageName: t.name, Resolve: t.resolve,
		Process: o.Process, Env: o.Env, Checks: checks, ListenTimeout: o.ListenTimeout,
		Restart: o.Restart, StopTimeout: o.StopTimeout, Console: o.Console, Output: o.Stdout,
	})
	return serveWithProxy(ctx, o, px, ln, sup, t.name)
}

// serveWithProxy runs the proxy and the supervisor together. When ctx ends
// the proxy stops accepting and finishes in-flight requests while the
// supervisor stops the process; SIGHUP replaces the process.
func serveWithProxy(ctx context.Context, o Options, px *proxy.Proxy, ln net.Listener, sup *supervisor.Supervisor, name string) error {
	replace := replaceOnHangup()
	defer signal.Stop(replace.signals)
	proxyCtx, stopProxy := context.WithCancel(context.WithoutCancel(ctx))
	proxied := make(chan error, 1)
	go func() { proxied <- px.Serve(proxyCtx, ln) }()
	o.Console.Step("Serving %s (%s) on http://%s", name, o.Process, ln.Addr())
	supCtx, stopSup := context.WithCancel(ctx)
	defer stopSup()
	supErr := make(chan error, 1)
	go func() { supErr <- sup.Serve(supCtx, replace.requests) }()
	var err error
	select {
	case err = <-supErr:
		stopProxy()
		err = errors.Join(err, <-proxied)
	case <-ctx.Done():
		o.Console.Step("Stopping: draining requests, then the process")
		stopProxy()
		perr := <-proxied
		stopSup()
		err = errors.Join(<-supErr, perr)
	}
	if err == nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// hangups turns SIGHUPs into replacement requests; requests made while
// one is pending are merged into it.
type hangups struct {
	signals  chan os.Signal
	requests chan struct{}
}

func replaceOnHangup() *hangups {
	h := &hangups{signals: make(chan os.Signal, 1), requests: make(chan struct{}, 1)}
	signal.Notify(h.signals, syscall.SIGHUP)
	go func() {
		for range h.signals {
			select {
			case h.requests <- struct{}{}:
			default:
			}
		}
	}()
	return h
}
