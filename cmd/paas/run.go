package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/detect"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/proxy"
	"github.com/paas-dev/paas/runner"
	"github.com/paas-dev/paas/supervisor"
)

type runOptions struct {
	port, maxConns                                int
	process, envFile, runtime, address, namespace string
	check, restart, listen                        string
	env                                           []string
	checkTimeout, stopTimeout, listenTimeout      time.Duration
	replace                                       bool
}

func runCommand() command {
	c := command{
		name:    "run",
		summary: "Run an image's process on containerd (or the sandbox) behind paas's reverse proxy",
		usage:   "run IMAGE [flags] | run IMAGE [flags] -- COMMAND [ARGS...]",
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		var o runOptions
		fs := newFlags(c, env.stderr)
		fs.IntVarP(&o.port, "port", "p", 8080, "public port the proxy listens on")
		fs.StringVar(&o.listen, "listen", "", "address the proxy listens on (default 0.0.0.0:PORT)")
		fs.IntVar(&o.maxConns, "max-connections", 0, "most client connections the proxy keeps open at once; more wait (default: what the open-file limit allows, at most 4096)")
		fs.StringVar(&o.process, "process", "web", "process type to run")
		fs.StringArrayVarP(&o.env, "env", "e", nil, "environment variable K=V for the process; repeatable")
		fs.StringVar(&o.envFile, "env-file", "", "file of KEY=value variables for the process")
		fs.StringVar(&o.runtime, "runtime", "auto", "auto, containerd or sandbox")
		fs.StringVar(&o.address, "containerd-address", "", "containerd socket (default $CONTAINERD_ADDRESS, else "+runner.DefaultAddress+")")
		fs.StringVar(&o.namespace, "namespace", runner.DefaultNamespace, "containerd namespace")
		fs.StringVar(&o.check, "check", "", "HTTP path that must answer 2xx before traffic reaches a process (default: app.json healthchecks, else 10 s uptime)")
		fs.DurationVar(&o.checkTimeout, "check-timeout", health.DefaultTimeout, "timeout of each --check attempt")
		fs.DurationVar(&o.listenTimeout, "listen-timeout", health.DefaultListenTimeout, "how long a process may take to listen on $PORT")
		fs.StringVar(&o.restart, "restart", "on-failure:10", "no, or on-failure[:N] (restarts in a row)")
		fs.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "time between SIGTERM and SIGKILL")
		fs.BoolVar(&o.replace, "replace", false, "replace the process of a paas run already serving this image, without downtime")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return usageError{"paas run needs an IMAGE"}
		}
		if o.maxConns < 0 {
			return usageError{fmt.Sprintf("--max-connections %d: want a positive number, or 0 for the default", o.maxConns)}
		}
		ref := fs.Arg(0)
		if o.replace {
			return signalReplace(env, ref)
		}
		if dash := fs.ArgsLenAtDash(); dash >= 0 {
			if dash != 1 || fs.NArg() < 2 {
				return usageError{"paas run IMAGE -- COMMAND [ARGS...]: give the command after --"}
			}
			return runOneOff(ctx, env, ref, fs.Args()[1:], o)
		}
		if fs.NArg() != 1 {
			return usageError{"paas run takes one IMAGE; put a one-off command after --"}
		}
		return runServe(ctx, env, ref, o)
	}
	return c
}

// restartPolicy parses --restart.
func restartPolicy(s string) (supervisor.Restart, error) {
	switch {
	case s == "no":
		return supervisor.Restart{}, nil
	case s == "on-failure":
		return supervisor.Restart{OnFailure: true, Max: 10}, nil
	case strings.HasPrefix(s, "on-failure:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "on-failure:"))
		if err != nil || n < 0 {
			break
		}
		return supervisor.Restart{OnFailure: true, Max: n}, nil
	}
	return supervisor.Restart{}, usageError{fmt.Sprintf("--restart %q: want no, on-failure or on-failure:N", s)}
}

// processEnv reads --env-file then --env.
func processEnv(o runOptions) ([]string, error) {
	var out []string
	if o.envFile != "" {
		vars, err := detect.ReadEnvFile(o.envFile)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env-file: %v", err)}
		}
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
	}
	for _, kv := range o.env {
		k, v, err := detect.ParseEnv(kv)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env %q: %v", kv, err)}
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// chooseRuntime connects to containerd, or falls back to the sandbox.
func chooseRuntime(ctx context.Context, con *console.Console, o runOptions) (runner.Runtime, error) {
	addr := runner.Address(o.address)
	sandboxRuntime := func() (runner.Runtime, error) {
		home := oci.DefaultHome()
		roots, err := rootfsCache(home)
		if err != nil {
			return nil, fmt.Errorf("sandbox runtime: %w", err)
		}
		return runner.NewSandbox(filepath.Join(home, "run"), runner.WithRootfs(roots))
	}
	switch o.runtime {
	case "sandbox":
		return sandboxRuntime()
	case "containerd":
		rt, err := runner.NewContainerd(ctx, addr, o.namespace)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errRuntime, err)
		}
		return rt, nil
	case "auto":
		rt, err := runner.NewContainerd(ctx, addr, o.namespace)
		if err == nil {
			con.Info("Using containerd at %s", addr)
			return rt, nil
		}
		con.Info("containerd is not usable (%v); using the sandbox runtime", err)
		return sandboxRuntime()
	}
	return nil, usageError{fmt.Sprintf("--runtime %q: want auto, containerd or sandbox", o.runtime)}
}

// imageResolver re-reads the image each time, so a replacement runs what
// the store holds under the name now.
func imageResolver(ref string) (func() (v1.Image, error), string, error) {
	img, name, err := openImage(ref)
	if err != nil {
		return nil, "", err
	}
	if isTransport(ref) {
		return func() (v1.Image, error) { return img, nil }, imageNameFor(img, ref), nil
	}
	return func() (v1.Image, error) {
		img, _, err := openImage(ref)
		return img, err
	}, name, nil
}

func imageNameFor(img v1.Image, ref string) string {
	d, err := img.Digest()
	if err != nil {
		return ref
	}
	return "paas-import/" + d.Hex[:12] + ":latest"
}

// runInputs is what both kinds of paas run start from.
type runInputs struct {
	vars    []string
	resolve func() (v1.Image, error)
	name    string
	img     v1.Image
}

func prepareRun(ref string, o runOptions) (*runInputs, error) {
	vars, err := processEnv(o)
	if err != nil {
		return nil, err
	}
	resolve, name, err := imageResolver(ref)
	if err != nil {
		return nil, err
	}
	img, err := resolve()
	if err != nil {
		return nil, err
	}
	return &runInputs{vars: vars, resolve: resolve, name: name, img: img}, nil
}

func runServe(ctx context.Context, env *cliEnv, ref string, o runOptions) error {
	con := console.New(env.stderr, false)
	restart, err := restartPolicy(o.restart)
	if err != nil {
		return err
	}
	in, err := prepareRun(ref, o)
	if err != nil {
		return err
	}
	checks, err := readinessChecks(in.img, o)
	if err != nil {
		return err
	}
	listen := o.listen
	if listen == "" {
		listen = net.JoinHostPort("0.0.0.0", strconv.Itoa(o.port))
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usageError{fmt.Sprintf("proxy cannot listen on %s: %v", listen, err)}
	}
	rt, err := chooseRuntime(ctx, con, o)
	if err != nil {
		ln.Close()
		return err
	}
	defer rt.Close()
	release, err := claimServing(in.name)
	if err != nil {
		ln.Close()
		return err
	}
	defer release()
	px := proxy.New(proxy.Options{
		AccessLog: con.Writer(), Name: in.name, ShutdownGrace: o.stopTimeout, MaxConnections: o.maxConns,
	})
	sup := supervisor.New(supervisor.Options{
		Runtime: rt, Proxy: px, AppName: appName(in.name), ImageName: in.name, Resolve: in.resolve,
		Process: o.process, Env: in.vars, Checks: checks, ListenTimeout: o.listenTimeout,
		Restart: restart, StopTimeout: o.stopTimeout, Console: con, Output: env.stdout,
	})
	return serveWithProxy(ctx, con, px, ln, sup, in.name, o.process)
}

// serveWithProxy runs the proxy and the supervisor together. On Ctrl-C or
// SIGTERM the proxy stops accepting and finishes in-flight requests while
// the supervisor stops the process; SIGHUP replaces the process.
func serveWithProxy(ctx context.Context, con *console.Console, px *proxy.Proxy, ln net.Listener, sup *supervisor.Supervisor, name, process string) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	replace := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case replace <- struct{}{}:
			default:
			}
		}
	}()
	proxyCtx, stopProxy := context.WithCancel(context.WithoutCancel(ctx))
	proxied := make(chan error, 1)
	go func() { proxied <- px.Serve(proxyCtx, ln) }()
	con.Step("Serving %s (%s) on http://%s", name, process, ln.Addr())
	supCtx, stopSup := context.WithCancel(ctx)
	defer stopSup()
	supErr := make(chan error, 1)
	go func() { supErr <- sup.Serve(supCtx, replace) }()
	var err error
	select {
	case err = <-supErr:
		stopProxy()
		<-proxied
	case <-ctx.Done():
		con.Step("Stopping: draining requests, then the process")
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

// readinessChecks: --check, else the image's app.json healthchecks for the
// process type, else health's default (the process stays up).
func readinessChecks(img v1.Image, o runOptions) ([]health.Check, error) {
	if o.check != "" {
		c := health.PathCheck(o.check)
		c.Timeout = o.checkTimeout
		return []health.Check{c}, nil
	}
	data, err := appFileFromImage(img, "app.json")
	if err != nil || data == nil {
		return nil, err
	}
	checks, err := health.ParseAppJSON(data, o.process)
	if err != nil {
		return nil, fmt.Errorf("%w: the image's app.json: %v", errRuntime, err)
	}
	return checks, nil
}

// appName is the name without its tag, for container ids.
func appName(name string) string {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i]
	}
	return name
}
