package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// initConfig travels from Run to the init as JSON in the init's argv.
type initConfig struct {
	// Probe makes the init exit once its namespaces (and, with Root, its
	// overlay) work, without running a command.
	Probe bool
	// Remove makes the init remove this host path, with the powers over
	// mapped ids that it has in its user namespace, instead of running a
	// command.
	Remove string
	// Unpack makes the init apply the layer tar on its stdin to this host
	// directory, giving entries the tar's owners where the mapping has
	// them (Owners: how many uids and gids it maps), instead of running a
	// command.
	Unpack string
	Owners [2]int

	Root, Upper, Work, Merged string
	Mounts                    []Mount
	Network                   Network

	Args     []string
	Env      []string
	Dir      string
	UID, GID int
	Limits   Limits

	// SetGroups says whether setgroups(2) is allowed in the namespace.
	SetGroups bool
	// MapLater says the parent writes the id mapping after the start; the
	// init waits for it and then executes itself again to gain the
	// capabilities an unmapped process lost at execve.
	MapLater bool
}

// report is what the init tells Run through its report pipe: a setup error,
// or how the command ended.
type report struct {
	Error       string `json:",omitempty"`
	Unavailable bool   `json:",omitempty"`
	Code        int
	Signal      syscall.Signal `json:",omitempty"`
}

func (r report) exitError() *ExitError {
	if r.Code == 0 && r.Signal == 0 {
		return nil
	}
	return &ExitError{Code: r.Code, Signal: r.Signal}
}

// Descriptors the init inherits after stdio.
const (
	reportFD   = 3 // the init writes its report here
	lifelineFD = 4 // one byte says "go"; EOF says the parent died
)

// runInit starts an init for ic, waits for it and returns its report, or an
// error for setup failures, cancellation and unreadable reports.
func runInit(ctx context.Context, ids idMap, ic initConfig, stdio *Cmd) (report, error) {
	arg, err := json.Marshal(ic)
	if err != nil {
		return report{}, fmt.Errorf("encoding sandbox config: %w", err)
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return report{}, fmt.Errorf("creating report pipe: %w", err)
	}
	defer reportR.Close()
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		reportW.Close()
		return report{}, fmt.Errorf("creating lifeline pipe: %w", err)
	}
	// Closing the lifeline tells an init that is still running that its
	// parent is gone, even where Pdeathsig was lost (see MapLater).
	defer lifeW.Close()

	c := initCommand(ctx, ids, ic, arg, stdio)
	c.ExtraFiles = []*os.File{reportW, lifeR}
	err = c.Start()
	reportW.Close()
	lifeR.Close()
	if err != nil {
		return report{}, startError(ctx, err)
	}
	cg, err := limit(c, ic.Limits)
	if err != nil {
		return report{}, err
	}
	defer cg.remove()
	if err := release(c, ids, lifeW); err != nil {
		return report{}, err
	}
	data, readErr := io.ReadAll(reportR)
	waitErr := c.Wait()
	return parseReport(ctx, ic, data, readErr, waitErr)
}

// initCommand builds the command that starts the init in new namespaces.
// Pdeathsig makes the kernel kill the init, and with it the whole pid
// namespace, when this process dies, even by SIGKILL.
func initCommand(ctx context.Context, ids idMap, ic initConfig, arg []byte, stdio *Cmd) *exec.Cmd {
	c := exec.CommandContext(ctx, "/proc/self/exe")
	c.Args = []string{initArg, string(arg)}
	flags := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC)
	if ic.Network == NetworkNone {
		flags |= syscall.CLONE_NEWNET
	}
	// A new session leaves the caller's controlling terminal behind, so
	// nothing inside can open /dev/tty and type into the user's shell
	// (TIOCSTI), and the terminal's Ctrl-C reaches paas alone.
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL, Setsid: true}
	ids.apply(c.SysProcAttr)
	// An empty environment: the command gets Cmd.Env through the config,
	// and nothing of the caller's (tokens, keys) is left in the init's
	// /proc/1/environ for the command to read.
	c.Env = []string{}
	if stdio != nil {
		c.Stdin, c.Stdout, c.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	}
	// Killing the init kills its pid namespace; the grace only bounds the
	// wait for output copies should a writer block.
	c.WaitDelay = killGrace
	return c
}

// limit puts the started init, before it goes on, in control groups with
// the limits. Where the host has none to give, the init's own process
// limit (RLIMIT_NPROC) stands in for Pids.
func limit(c *exec.Cmd, l Limits) (*cgroup, error) {
	if l.none() {
		return nil, nil
	}
	cg, err := joinCgroup(c.Process.Pid, l)
	if errors.Is(err, ErrNoCgroups) {
		return nil, nil
	}
	if err != nil {
		_ = c.Process.Kill()
		_ = c.Wait()
		return nil, err
	}
	return cg, nil
}

// release writes a late id mapping if needed and lets the init go on.
func release(c *exec.Cmd, ids idMap, lifeW *os.File) error {
	if ids.external() {
		if err := ids.write(c.Process.Pid); err != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
			return err
		}
	}
	if _, err := lifeW.Write([]byte{1}); err != nil {
		_ = c.Process.Kill()
		_ = c.Wait()
		return fmt.Errorf("starting sandbox init: %w", err)
	}
	return nil
}

// startError explains why the init could not start. The clone flags are the
// only thing that can fail here on a working system, so the errors the
// kernel gives for refused namespaces become ErrUnavailable.
func startError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("starting sandbox: %w", ctx.Err())
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.ENOSPC ||
		errno == syscall.EINVAL || errno == syscall.EACCES || errno == syscall.EUSERS) {
		return fmt.Errorf("%w: cannot create user namespaces (%w); check the sysctls "+
			"user.max_user_namespaces, kernel.unprivileged_userns_clone and "+
			"kernel.apparmor_restrict_unprivileged_userns, or build with `--sandbox none`",
			ErrUnavailable, err)
	}
	return fmt.Errorf("starting sandbox init: %w", err)
}

// parseReport turns what the init reported, and how it ended, into Run's
// result.
func parseReport(ctx context.Context, ic initConfig, data []byte, readErr, waitErr error) (report, error) {
	if ctx.Err() != nil {
		return report{}, fmt.Errorf("%s: %w", ic.task(), ctx.Err())
	}
	var rep report
	if readErr != nil || len(data) == 0 || json.Unmarshal(data, &rep) != nil {
		return report{}, fmt.Errorf("%s: sandbox init ended without a report: %v", ic.task(), waitErr)
	}
	if rep.Error == "" {
		return rep, nil
	}
	if rep.Unavailable {
		return report{}, fmt.Errorf("%w: %s; build with `--sandbox none` on this machine", ErrUnavailable, rep.Error)
	}
	return report{}, fmt.Errorf("%s in sandbox: %s", ic.task(), rep.Error)
}

// task names what the init was started for, for error messages.
func (ic initConfig) task() string {
	switch {
	case ic.Remove != "":
		return "removing " + ic.Remove
	case ic.Unpack != "":
		return "unpacking into " + ic.Unpack
	case ic.Probe:
		return "probing"
	}
	return "running " + ic.Args[0]
}
