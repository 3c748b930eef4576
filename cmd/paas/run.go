package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/runner"
	"github.com/paas-dev/paas/supervisor"
)

type runFlags struct {
	port                     int
	listen, envFile, restart string
	scale                    string
	env                      []string
	replace, detach          bool
	deploy.Options
}

func runCommand() command {
	c := command{
		name:    "run",
		summary: "Run an image's process on containerd (or the sandbox) behind paas's reverse proxy",
		usage:   "run IMAGE [flags] | run IMAGE [flags] -- COMMAND [ARGS...]",
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		var f runFlags
		fs := newFlags(c, env.stderr)
		f.define(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return usageError{"paas run needs an IMAGE"}
		}
		f.Image = fs.Arg(0)
		h, err := home.Open("")
		if err != nil {
			return err
		}
		if f.replace {
			return replace(env, h, f.Image)
		}
		if err := f.check(); err != nil {
			return err
		}
		f.Console, f.Stdout, f.Stderr = console.New(env.stderr, false), env.stdout, env.stderr
		if dash := fs.ArgsLenAtDash(); dash >= 0 && f.detach {
			return usageError{"paas run -d serves an image; a one-off command runs in the foreground"}
		} else if dash >= 0 {
			if dash != 1 || fs.NArg() < 2 {
				return usageError{"paas run IMAGE -- COMMAND [ARGS...]: give the command after --"}
			}
			return deploy.OneOff(ctx, h, fs.Args()[1:], f.Options)
		}
		if fs.NArg() != 1 {
			return usageError{"paas run takes one IMAGE; put a one-off command after --"}
		}
		if f.detach {
			if f.LogFile = os.Getenv(deploy.DetachedEnv); f.LogFile == "" {
				return detach(ctx, env, h, f.Image, args)
			}
		}
		ln, err := f.listener()
		if err != nil {
			return err
		}
		return deploy.Serve(ctx, h, ln, f.Options)
	}
	return c
}

// define declares the flags of paas run (and paas generate systemd) on fs.
func (f *runFlags) define(fs *pflag.FlagSet) {
	fs.IntVarP(&f.port, "port", "p", 8080, "public port the proxy listens on")
	fs.StringVar(&f.listen, "listen", "", "address the proxy listens on (default 0.0.0.0:PORT)")
	fs.IntVar(&f.MaxConnections, "max-connections", 0, "most client connections the proxy keeps open at once; more wait (default: what the open-file limit allows, at most 4096)")
	fs.StringVar(&f.Process, "process", "", "run one process of this type alone (default: the formation)")
	fs.StringVar(&f.scale, "scale", "", "processes of each type, such as web=3,worker=1 (over app.json formation; default: one web)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "environment variable K=V for the process; repeatable")
	fs.StringVar(&f.envFile, "env-file", "", "file of KEY=value variables for the process")
	fs.StringVar(&f.Runtime, "runtime", deploy.RuntimeAuto, "auto, containerd or sandbox")
	fs.StringVar(&f.ContainerdAddress, "containerd-address", "", "containerd socket (default $CONTAINERD_ADDRESS, else "+runner.DefaultAddress+")")
	fs.StringVar(&f.Namespace, "namespace", runner.DefaultNamespace, "containerd namespace")
	fs.StringVar(&f.Check, "check", "", "HTTP path that must answer 2xx before traffic reaches a process (default: app.json healthchecks, else 10 s uptime)")
	fs.DurationVar(&f.CheckTimeout, "check-timeout", health.DefaultTimeout, "timeout of each --check attempt")
	fs.DurationVar(&f.ListenTimeout, "listen-timeout", health.DefaultListenTimeout, "how long a process may take to listen on $PORT")
	fs.StringVar(&f.restart, "restart", "on-failure:10", "no, or on-failure[:N] (restarts in a row)")
	fs.DurationVar(&f.StopTimeout, "stop-timeout", 30*time.Second, "time between SIGTERM and SIGKILL")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "PEM certificate chain: the proxy serves HTTPS (and HTTP/2); reloaded on SIGHUP")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&f.RedirectHTTP, "redirect-http", false, "with --tls-cert, redirect plain HTTP on the port to https (else it gets 400)")
	fs.BoolVarP(&f.detach, "detach", "d", false, "serve in the background, past the shell's exit; output goes to a log (paas logs, paas ps, paas stop)")
	fs.BoolVar(&f.replace, "replace", false, "replace the process of a paas run already serving this image, without downtime")
}

// check validates the flags and completes the options from them.
func (f *runFlags) check() error {
	if f.MaxConnections < 0 {
		return usageError{fmt.Sprintf("--max-connections %d: want a positive number, or 0 for the default", f.MaxConnections)}
	}
	switch f.Runtime {
	case deploy.RuntimeAuto, deploy.RuntimeContainerd, deploy.RuntimeSandbox:
	default:
		return usageError{fmt.Sprintf("--runtime %q: want auto, containerd or sandbox", f.Runtime)}
	}
	var err error
	if f.Restart, err = restartPolicy(f.restart); err != nil {
		return err
	}
	if f.Scale, err = deploy.ParseScale(f.scale); err != nil {
		return err
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return usageError{"--tls-cert and --tls-key go together: give both"}
	}
	if f.RedirectHTTP && f.TLSCert == "" {
		return usageError{"--redirect-http needs --tls-cert and --tls-key"}
	}
	f.Env, err = processEnv(f.envFile, f.env)
	return err
}

func (f *runFlags) listener() (net.Listener, error) {
	addr := f.listen
	if addr == "" {
		addr = net.JoinHostPort("0.0.0.0", strconv.Itoa(f.port))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("proxy cannot listen on %s: %v", addr, err)}
	}
	return ln, nil
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
func processEnv(envFile string, env []string) ([]string, error) {
	vars, err := configVars(envFile, env)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out, nil
}

// replace asks the paas runs serving ref to replace their process.
func replace(env *cliEnv, h *home.Home, ref string) error {
	pids, err := deploy.Replace(h, ref)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		fmt.Fprintf(env.stderr, "-----> Asked paas run (pid %d) to replace %s; it logs the outcome\n", pid, ref)
	}
	return nil
}

// detach starts paas run args in the background and says how to follow it.
func detach(ctx context.Context, env *cliEnv, h *home.Home, ref string, args []string) error {
	pid, err := deploy.Detach(ctx, h, ref, append([]string{"run"}, args...))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "-----> Serving %s in the background (pid %d): paas ps lists it, paas logs %s [-f] shows its output, paas stop %s stops it\n", ref, pid, ref, ref)
	return nil
}
