package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Spec describes one process to start from an image.
type Spec struct {
	// ID names the process uniquely among the runtime's processes, e.g.
	// "hello-web-1a2b3c". The runtimes derive container ids, snapshot keys
	// and directory names from it, so it must be a valid containerd
	// identifier: letters, digits and "._-".
	ID string
	// Image is the image to run, e.g. from the store.
	Image v1.Image
	// ImageName is the name the containerd runtime records the image under,
	// e.g. "hello:latest"; empty means the manifest digest.
	ImageName string
	// Args replaces the image's Cmd; the image's Entrypoint is kept, so for
	// a paas image ["web"] runs the web process type and ["env"] any
	// command. Nil runs the image's default.
	Args []string
	// Env is added to the image's Env, replacing variables of the same
	// name (e.g. PORT, PAAS_PROCESS_TYPE).
	Env []string
	// Stdout and Stderr receive the process's output as it is written; nil
	// discards it. They are written from different goroutines.
	Stdout, Stderr io.Writer
}

// Exit is how a process ended.
type Exit struct {
	// Code is the exit status, or 128+n when signal n killed the process,
	// as shells and container runtimes report it.
	Code int
	// Signal names the signal that killed the process, e.g. "SIGKILL";
	// empty when the process exited by itself.
	Signal string
}

// Process is one started process of an image.
type Process interface {
	// ID returns Spec.ID.
	ID() string
	// Done is closed when the process has exited and its output has been
	// written to Spec.Stdout and Spec.Stderr.
	Done() <-chan struct{}
	// Exit reports how the process ended; it is valid once Done is closed.
	Exit() Exit
	// Stop sends SIGTERM, sends SIGKILL if the process is still running
	// after timeout, waits for it to exit and then deletes everything the
	// runtime created for it. It also cleans up a process that exited by
	// itself, so every Process must be stopped. Stop is idempotent; after
	// an error (such as ctx ending) it may be called again.
	Stop(ctx context.Context, timeout time.Duration) error
}

// Changes is a Process whose changes to its filesystem can be read once it
// has exited, until Stop: the sandbox runtime's processes are.
type Changes interface {
	Process
	// UpperDir returns the process's writable layer, the upper directory
	// of the overlay it runs on (see layers.WithOverlayUpper).
	UpperDir() string
}

// Runtime starts processes of images.
type Runtime interface {
	// Name returns "containerd" or "sandbox".
	Name() string
	// Start starts the process spec describes. On error nothing it created
	// is left behind.
	Start(ctx context.Context, spec Spec) (Process, error)
	// Close releases the runtime's resources. Stop every Process first.
	Close() error
}

// DefaultAddress is where containerd listens unless told otherwise.
const DefaultAddress = "/run/containerd/containerd.sock"

// AddressEnv is the environment variable that names containerd's socket,
// as for containerd's own tools.
const AddressEnv = "CONTAINERD_ADDRESS"

// Address picks containerd's socket: the --containerd-address flag's value,
// else $CONTAINERD_ADDRESS, else DefaultAddress.
func Address(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(AddressEnv); env != "" {
		return env
	}
	return DefaultAddress
}

// specCommand checks spec and returns its image's config and the command
// line the process runs, as both runtimes start it.
func specCommand(spec Spec) (*v1.ConfigFile, []string, error) {
	if err := checkSpec(spec); err != nil {
		return nil, nil, err
	}
	cfg, err := configFile(spec.Image, spec.ID)
	if err != nil {
		return nil, nil, err
	}
	args, err := imageArgs(cfg.Config, spec)
	if err != nil {
		return nil, nil, err
	}
	return cfg, args, nil
}

// checkSpec rejects specs no runtime can start.
func checkSpec(spec Spec) error {
	switch {
	case spec.ID == "":
		return errors.New("starting process: empty ID")
	case strings.ContainsAny(spec.ID, "/\x00") || spec.ID == "." || spec.ID == "..":
		return fmt.Errorf("starting process %q: ID must not be a path", spec.ID)
	case spec.Image == nil:
		return fmt.Errorf("starting process %s: no image", spec.ID)
	}
	return nil
}

// configFile reads the config of the image process id runs.
func configFile(img v1.Image, id string) (*v1.ConfigFile, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("starting %s: reading image config: %w", id, err)
	}
	return cfg, nil
}

// imageArgs returns the command line of spec's process: the image's
// entrypoint followed by spec.Args, or by the image's Cmd when spec.Args
// is nil.
func imageArgs(cfg v1.Config, spec Spec) ([]string, error) {
	cmd := cfg.Cmd
	if spec.Args != nil {
		cmd = spec.Args
	}
	args := append(slices.Clone(cfg.Entrypoint), cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("starting process %s: the image has no entrypoint or command and none was given", spec.ID)
	}
	return args, nil
}

// orDiscard returns w, or io.Discard for nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// exitFromSignal describes a process killed by sig.
func exitFromSignal(sig syscall.Signal) Exit {
	return Exit{Code: 128 + int(sig), Signal: unix.SignalName(sig)}
}

// terminate asks a process to stop with term and, if it has not exited
// after timeout, forces it with kill. It returns once the process has
// exited (done is closed), or with ctx's error.
func terminate(ctx context.Context, done <-chan struct{}, timeout time.Duration, term, kill func() error) error {
	select {
	case <-done:
		return nil
	default:
	}
	if err := term(); err != nil {
		return err
	}
	grace := time.NewTimer(timeout)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-grace.C:
	}
	if err := kill(); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cleanupTimeout bounds the cleanup after a failed Start, which runs even
// when the caller's context has ended.
const cleanupTimeout = 30 * time.Second

// cleanupContext returns a context for undoing what a failed Start did:
// ctx's values (such as the containerd namespace) without its
// cancellation.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
