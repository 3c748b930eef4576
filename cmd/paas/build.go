package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/buildkit"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/envfile"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
	"github.com/paas-dev/paas/trust"
)

// DefaultPidsLimit is --pids-limit's default: far more than any build
// runs, far fewer than a fork bomb makes.
const DefaultPidsLimit = 4096

type buildFlags struct {
	tag, stack, envFile, push, network, sandbox, compression, memory string
	builder, builderTLSDir, builderServerName                        string
	pids                                                             int
	buildpacks, env, outputs, caCerts                                []string
	noCache, pull, json, quiet                                       bool
	timeout                                                          time.Duration
}

func buildCommand() command {
	c := command{
		name:    "build",
		summary: "Build an app directory into an OCI image with buildpacks",
		usage:   "build [DIR] [flags]",
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		var f buildFlags
		fs := newFlags(c, env.stderr)
		fs.StringVarP(&f.tag, "tag", "t", "", "image name[:tag] (default: the directory's name, :latest)")
		fs.StringVar(&f.stack, "stack", "", "stack name in the store, or oci:DIR, oci-archive:FILE, docker-archive:FILE (default "+stacks.Default+", or $PAAS_STACK)")
		fs.StringArrayVarP(&f.buildpacks, "buildpack", "b", nil, "buildpack reference (dir, .tgz, URL, git URL#ref); repeat for several, run in order")
		fs.StringArrayVarP(&f.env, "env", "e", nil, "config var K=V given to buildpacks in ENV_DIR; repeatable")
		fs.StringVar(&f.envFile, "env-file", "", "file of KEY=value config vars")
		fs.StringArrayVarP(&f.outputs, "output", "o", nil, "also write the image to oci:DIR, oci-archive:FILE or docker-archive:FILE; repeatable")
		fs.StringVar(&f.push, "push", "", "push the image to a registry reference")
		fs.StringArrayVar(&f.caCerts, "ca-cert", nil, "PEM file of certificate authorities the buildpacks trust besides the host's; repeatable")
		fs.BoolVar(&f.noCache, "no-cache", false, "start with an empty build cache")
		fs.IntVar(&f.pids, "pids-limit", DefaultPidsLimit, "most processes a buildpack may run at once (0: no limit)")
		fs.StringVar(&f.memory, "memory", "", "most memory a buildpack may use, e.g. 4g (default: no limit)")
		fs.DurationVar(&f.timeout, "timeout", lifecycle.DefaultTimeout, "stop the build when detect, compile and release take longer (0: no limit)")
		fs.BoolVar(&f.pull, "pull", false, "re-fetch remote buildpacks that are not pinned to a commit")
		fs.StringVar(&f.network, "network", "host", "network of the buildpacks: host or none")
		fs.StringVar(&f.sandbox, "sandbox", "auto", "auto (namespaces) or none (run buildpacks on the current root filesystem)")
		fs.StringVar(&f.builder, "builder", "", "run the buildpacks on this BuildKit daemon: unix://PATH, tcp://HOST:PORT, kube-pod://POD, docker-container://NAME, podman-container://NAME or ssh://HOST; not with --sandbox none, --memory or --pids-limit (default $"+buildkit.HostEnv+`; "": paas's own sandbox)`)
		fs.StringVar(&f.builderTLSDir, "builder-tls-dir", "", "directory of ca.pem, cert.pem and key.pem for a tcp:// --builder")
		fs.StringVar(&f.builderServerName, "builder-tls-server-name", "", "name the --builder's TLS certificate must have (default: its host)")
		fs.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip or zstd")
		fs.BoolVar(&f.json, "json", false, "print one JSON object describing the image on stdout")
		fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only warnings and errors")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 1 {
			return usageError{"paas build takes at most one directory"}
		}
		o, err := f.options(fs.Arg(0), fs.Changed("builder"))
		if err != nil {
			return err
		}
		if err := f.checkBuildKit(o, fs.Changed("memory") || fs.Changed("pids-limit")); err != nil {
			return err
		}
		o.Console = console.New(env.stderr, f.quiet)
		h, err := home.Open("")
		if err != nil {
			return err
		}
		report, err := builder.Build(ctx, h, o)
		if err != nil || !f.json {
			return err
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return c
}

// options checks the flags and maps them onto the builder's options.
// builderSet says whether --builder was given, even as "": only when it
// was not does BUILDKIT_HOST name a daemon.
func (f *buildFlags) options(dir string, builderSet bool) (builder.Options, error) {
	if dir == "" {
		dir = "."
	}
	o := builder.Options{
		AppDir: dir, Stack: f.stack, Buildpacks: f.buildpacks, EnvFile: f.envFile,
		NoCache: f.noCache, Pull: f.pull, Network: sandbox.Network(f.network), NoSandbox: f.sandbox == "none",
		Compression: layers.Compression(f.compression), Timeout: f.timeout,
		Outputs: f.outputs, Push: f.push,
		BuildKit: buildkit.Options{Address: f.builder, TLSDir: f.builderTLSDir, ServerName: f.builderServerName},
	}
	if !builderSet && !o.NoSandbox {
		o.BuildKit.Address = os.Getenv(buildkit.HostEnv)
	}
	var err error
	if o.Tag, err = builder.ImageName(f.tag, dir); err != nil {
		return o, usageError{fmt.Sprintf("--tag: %v", err)}
	}
	if o.Limits, err = f.limits(); err != nil {
		return o, err
	}
	if err := f.check(); err != nil {
		return o, err
	}
	if o.Env, err = configVars(f.envFile, f.env); err != nil {
		return o, err
	}
	if o.CAs, err = buildCAs(f.caCerts); err != nil {
		return o, err
	}
	return o, nil
}

func (f *buildFlags) check() error {
	switch {
	case f.timeout < 0:
		return usageError{fmt.Sprintf("--timeout %s: want a positive duration, or 0 for no limit", f.timeout)}
	case f.network != "host" && f.network != "none":
		return usageError{fmt.Sprintf("--network %q: want host or none", f.network)}
	case f.sandbox != "auto" && f.sandbox != "none":
		return usageError{fmt.Sprintf("--sandbox %q: want auto or none", f.sandbox)}
	case f.builder != "" && f.sandbox == "none":
		return usageError{"--builder runs the buildpacks on BuildKit: --sandbox none does not apply"}
	case f.compression != string(layers.Gzip) && f.compression != string(layers.Zstd):
		return usageError{fmt.Sprintf("--compression %q: want gzip or zstd", f.compression)}
	}
	for _, d := range f.outputs {
		if _, _, err := oci.ParseDest(d); err != nil {
			return usageError{err.Error()}
		}
	}
	return nil
}

// checkBuildKit refuses flags that mean nothing for where the build runs.
func (f *buildFlags) checkBuildKit(o builder.Options, limits bool) error {
	switch {
	case o.BuildKit.Address != "" && limits:
		return usageError{"--memory and --pids-limit bound paas's own sandbox: on BuildKit, its workers' limits apply"}
	case o.BuildKit.Address == "" && (f.builderTLSDir != "" || f.builderServerName != ""):
		return usageError{"--builder-tls-dir and --builder-tls-server-name need a --builder (or $" + buildkit.HostEnv + ")"}
	}
	return nil
}

func (f *buildFlags) limits() (sandbox.Limits, error) {
	if f.pids < 0 {
		return sandbox.Limits{}, usageError{fmt.Sprintf("--pids-limit %d: want a positive number, or 0 for no limit", f.pids)}
	}
	mem, err := parseSize(f.memory)
	if err != nil {
		return sandbox.Limits{}, usageError{fmt.Sprintf("--memory %q: %v", f.memory, err)}
	}
	return sandbox.Limits{Pids: f.pids, Memory: mem}, nil
}

// parseSize reads a byte count such as 512m or 4g (binary units); "" is 0.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := map[byte]int64{'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}
	mult := int64(1)
	if u, ok := units[strings.ToLower(s)[len(s)-1]]; ok {
		mult, s = u, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive size such as 512m or 4g")
	}
	return n * mult, nil
}

// configVars reads --env-file, then --env (later winning).
func configVars(envFile string, env []string) (map[string]string, error) {
	vars := map[string]string{}
	if envFile != "" {
		m, err := envfile.Read(envFile)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env-file: %v", err)}
		}
		vars = m
	}
	for _, kv := range env {
		k, v, err := envfile.ParseVar(kv)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env %q: %v", kv, err)}
		}
		vars[k] = v
	}
	return vars, nil
}

// buildCAs returns the host's certificate authorities plus the --ca-cert
// files.
func buildCAs(files []string) (*trust.Pool, error) {
	cas, err := trust.Host()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := cas.AddFile(f); err != nil {
			return nil, usageError{fmt.Sprintf("--ca-cert: %v", err)}
		}
	}
	return cas, nil
}
