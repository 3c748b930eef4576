package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/paas-dev/paas/fault"
)

// Network selects the network a sandboxed command sees.
type Network string

const (
	// NetworkHost shares the host's network, so buildpacks can download
	// dependencies; the host's /etc/resolv.conf and /etc/hosts are mounted
	// read-only so names resolve as on the host.
	NetworkHost Network = "host"
	// NetworkNone gives the command a network namespace with only loopback.
	NetworkNone Network = "none"
)

// Mount bind-mounts the host file or directory Source at Target inside the
// sandbox. Target need not exist in the stack: its mount point is created.
//
// A Mount with Upper is a copy-on-write overlay of the directory Source
// instead: commands see Source, and whatever they change (writing,
// truncating, chmod, removing) lands in Upper, never in Source. Upper is an
// overlayfs upper directory that the caller may prepare before New: a
// whiteout in it (a 0/0 character device, which any user may create) hides
// the entry of Source with its name. Source's files keep their host owners
// inside where the mapping has them (see MappedOwners); for root callers
// Source is id-mapped so that host id N shows as id N inside. Upper+".work"
// is created for overlayfs's own use, and OpenOverlay shows the host what
// the commands left. Host refuses such mounts.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	Upper    string `json:",omitempty"`
}

// Config describes a namespaced sandbox.
type Config struct {
	// Root is the stack rootfs directory: the read-only lower layer of an
	// overlay; it is never modified.
	Root string
	// Upper holds the copy-on-write changes (the overlay upperdir). The
	// caller keeps it so that changes made by one Run are seen by the next
	// Run of the same build. It is created if missing, and a sibling
	// directory Upper+".work" is created for the overlay's own use. Mount
	// points missing from the stack are created in Upper.
	Upper   string
	Mounts  []Mount
	Network Network
	// Limits bound each Run: with control groups where the host delegates
	// them (see CgroupsAvailable), else Pids alone as a process limit.
	Limits Limits
}

// Cmd is a command to run in a sandbox.
type Cmd struct {
	// Args is the command and its arguments. A name without a slash is
	// looked up in the PATH of Env.
	Args []string
	// Env is the complete environment of the command; nil means only
	// DefaultPath, so nothing of the caller's environment leaks in.
	Env []string
	// Dir is the working directory inside the sandbox; empty means "/".
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// UID and GID are the ids the command runs as inside the sandbox; the
	// default 0 is root inside, which is the caller outside.
	UID, GID int
}

// DefaultPath is the PATH of a command whose Cmd.Env is nil.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Sandbox runs commands in an isolated view of a stack.
type Sandbox interface {
	// Run runs cmd to completion. It returns an *ExitError when the command
	// exits non-zero or is killed, and an error wrapping ctx.Err() when ctx
	// ends first (the command and all its descendants are killed).
	Run(ctx context.Context, cmd *Cmd) error
	// Path returns how the sandbox path target is spelled for the process
	// that runs commands: the identity for namespaced sandboxes, and the
	// mount source for Host.
	Path(target string) string
}

// ErrUnavailable reports that this machine cannot run namespaced sandboxes
// (user namespaces or overlayfs in them are refused); Host is the fallback.
var ErrUnavailable = fault.New(fault.Sandbox, "sandbox unavailable")

// ErrUnmappedID reports a Cmd.UID or Cmd.GID that has no host id in the
// sandbox's user namespace.
var ErrUnmappedID = errors.New("id not mapped in the sandbox")

// ExitError reports a command that exited non-zero or was killed by a
// signal.
type ExitError struct {
	// Code is the exit status, or 128+Signal when the command was killed.
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// exitErrorFrom converts a wait status into an *ExitError, or nil for
// success.
func exitErrorFrom(ws syscall.WaitStatus) *ExitError {
	switch {
	case ws.Signaled():
		return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	case ws.ExitStatus() != 0:
		return &ExitError{Code: ws.ExitStatus()}
	}
	return nil
}
