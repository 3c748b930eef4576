// Package deploy is `paas run` as a library: it serves an image's process
// behind paas's proxy under a supervisor (Serve), runs one-off commands in
// a fresh process of an image (OneOff), and asks a serving deploy to
// replace its process (Replace).
package deploy

import (
	"context"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/runner"
	"github.com/paas-dev/paas/supervisor"
)

// ErrRuntime reports a runtime (containerd, the sandbox) that cannot be
// used, or a serving deploy that cannot be reached.
var ErrRuntime = fault.New(fault.Runtime, "runtime unavailable")

// ErrTLS reports a TLS certificate or key that cannot be used.
var ErrTLS = fault.New(fault.Usage, "unusable TLS certificate")

// Runtimes Options.Runtime names.
const (
	RuntimeAuto       = "auto"
	RuntimeContainerd = "containerd"
	RuntimeSandbox    = "sandbox"
)

// Options describe what to run and how.
type Options struct {
	// Image is a store name or a transport (oci:DIR, …).
	Image string
	// Process, when not "", is the one process type to run, one process
	// of it; else Scale and the image decide (formationOf).
	Process string
	// Scale sets the number of processes of each type it names, over the
	// image's app.json formation (--scale web=3,worker=1).
	Scale Formation
	// Env is added to the image's environment.
	Env []string
	// Runtime is RuntimeAuto (containerd when reachable, else the
	// sandbox), RuntimeContainerd or RuntimeSandbox.
	Runtime                      string
	ContainerdAddress, Namespace string
	// Check is an HTTP path that must answer 2xx before a process gets
	// traffic; "" uses the image's app.json checks, else health's default.
	Check                                    string
	CheckTimeout, ListenTimeout, StopTimeout time.Duration
	Restart                                  supervisor.Restart
	MaxConnections                           int
	// TLSCert and TLSKey, PEM files, make the proxy serve HTTPS, with
	// plain HTTP on its port redirected when RedirectHTTP is set; SIGHUP
	// reads them again.
	TLSCert, TLSKey string
	RedirectHTTP    bool
	// Clock drives the image's app.json cron entries; nil is the real
	// time.
	Clock Clock
	// LogFile is the file a detached run's output goes to, for paas ps.
	LogFile string
	// Console gets paas's own lines; Stdout and Stderr the processes'.
	Console        *console.Console
	Stdout, Stderr io.Writer
}

// target is the image a deploy runs and how to read it again.
type target struct {
	// name is the image's name for the runtime; key the name Replace
	// finds a serving deploy by (the store name, or the transport given).
	name, key string
	img       v1.Image
	// resolve re-reads the image, so a replacement runs what the store
	// holds under the name then.
	resolve func() (v1.Image, error)
}

func openTarget(h *home.Home, ref string) (*target, error) {
	img, name, err := h.Image(ref)
	if err != nil {
		return nil, err
	}
	if oci.IsTransport(ref) {
		t := &target{name: importName(img, ref), key: ref, img: img}
		t.resolve = func() (v1.Image, error) { return img, nil }
		return t, nil
	}
	t := &target{name: name, key: name, img: img}
	t.resolve = func() (v1.Image, error) {
		img, _, err := h.Image(ref)
		return img, err
	}
	return t, nil
}

// importName names an image run from a transport, for containerd.
func importName(img v1.Image, ref string) string {
	d, err := img.Digest()
	if err != nil {
		return ref
	}
	return "paas-import/" + d.Hex[:12] + ":latest"
}

// openRuntime connects to containerd, or falls back to the sandbox.
func openRuntime(ctx context.Context, h *home.Home, o Options) (runner.Runtime, error) {
	addr := runner.Address(o.ContainerdAddress)
	sandboxRuntime := func() (runner.Runtime, error) {
		c, err := h.Rootfs()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
		}
		return runner.NewSandbox(h.Run(), runner.WithRootfs(c))
	}
	switch o.Runtime {
	case RuntimeSandbox:
		return sandboxRuntime()
	case RuntimeContainerd:
		rt, err := runner.NewContainerd(ctx, addr, o.Namespace)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
		}
		return rt, nil
	case RuntimeAuto, "":
		rt, err := runner.NewContainerd(ctx, addr, o.Namespace)
		if err == nil {
			o.Console.Info("Using containerd at %s", addr)
			return rt, nil
		}
		o.Console.Info("containerd is not usable (%v); using the sandbox runtime", err)
		return sandboxRuntime()
	}
	return nil, fmt.Errorf("%w: unknown runtime %q: want auto, containerd or sandbox", ErrRuntime, o.Runtime)
}

// readinessChecks: o.Check, else the image's app.json healthchecks for the
// process type, else health's default (the process stays up).
func readinessChecks(m *manifest, o Options, processType string) ([]health.Check, error) {
	if o.Check != "" {
		c := health.PathCheck(o.Check)
		c.Timeout = o.CheckTimeout
		return []health.Check{c}, nil
	}
	if m.data == nil {
		return nil, nil
	}
	checks, err := health.ParseAppJSON(m.data, processType)
	if err != nil {
		return nil, fmt.Errorf("%w: the image's app.json: %w", ErrRuntime, err)
	}
	return checks, nil
}
