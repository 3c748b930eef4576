package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
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
	// View makes the init mount the overlay of Mounts[0] (a Mount with
	// Upper) and send it back on the lifeline (see OpenOverlay), instead
	// of running a command.
	View bool

	Root, Upper, Work, Merged string
	Mounts                    []mountConfig
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
	// PassPaths says the parent sends descriptors of the host paths with
	// its go-ahead (see sendPaths), for an init that may not search the
	// directories above them.
	PassPaths bool
	// PathFDs are those descriptors once received; the init closes them
	// once the sandbox is built.
	PathFDs []int `json:"-"`
}

// report is what the init tells Run through its report pipe: a setup error,
// or how the command ended.
type report struct {
	Error       string `json:",omitempty"`
	Unavailable bool   `json:",omitempty"`
	// Errno and Is carry what the error wraps (see errorReport).
	Errno  syscall.Errno `json:",omitempty"`
	Is     []int         `json:",omitempty"`
	Code   int
	Signal syscall.Signal `json:",omitempty"`
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
	rep, _, err := runInitFDs(ctx, ids, ic, stdio)
	return rep, err
}

// runInitFDs is runInit that also returns the descriptors a View init sent
// back; the caller owns them.
func runInitFDs(ctx context.Context, ids idMap, ic initConfig, stdio *Cmd) (report, []int, error) {
	ic.PassPaths = ids.shifted()
	arg, err := json.Marshal(ic)
	if err != nil {
		return report{}, nil, fmt.Errorf("encoding sandbox config: %w", err)
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return report{}, nil, fmt.Errorf("creating report pipe: %w", err)
	}
	defer reportR.Close()
	lifeR, lifeW, err := socketPair()
	if err != nil {
		reportW.Close()
		return report{}, nil, fmt.Errorf("creating lifeline pipe: %w", err)
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
		return report{}, nil, startError(ctx, err)
	}
	cg, err := limit(c, ic.Limits)
	if err != nil {
		return report{}, nil, err
	}
	defer cg.remove()
	if err := release(c, ids, ic, lifeW); err != nil {
		return report{}, nil, err
	}
	var fds []int
	if ic.View {
		// Nothing comes when the init fails: its report says why.
		fds, _ = receiveFDs(int(lifeW.Fd()))
	}
	data, readErr := io.ReadAll(reportR)
	waitErr := c.Wait()
	rep, err := parseReport(ctx, ic, data, readErr, waitErr)
	if err != nil {
		closeFDs(fds)
		return rep, nil, err
	}
	return rep, fds, nil
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

// release writes a late id mapping if needed and lets the init go on,
// sending the descriptors of its host paths when it needs them.
func release(c *exec.Cmd, ids idMap, ic initConfig, lifeW *os.File) error {
	err := ids.writeLate(c.Process.Pid)
	if err == nil {
		err = sendGo(c.Process.Pid, ic, lifeW)
	}
	if err != nil {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	return err
}

func (m idMap) writeLate(pid int) error {
	if !m.external() {
		return nil
	}
	return m.write(pid)
}

// sendGo writes the go-ahead byte, with the descriptors of ic's host paths
// when the init asked for them.
func sendGo(pid int, ic initConfig, lifeW *os.File) error {
	var rights []byte
	if ic.PassPaths {
		fds, err := openPaths(pid, ic)
		defer closeFDs(fds)
		if err != nil {
			return err
		}
		rights = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(int(lifeW.Fd()), []byte{1}, rights, nil, 0); err != nil {
		return fmt.Errorf("starting sandbox init: %w", err)
	}
	return nil
}

// openPaths opens ic's host paths (see hostPaths) as the init's mount
// namespace has them, through /proc/PID/root: the init may only mount
// from and onto mounts of its own namespace. As root, the init is an
// unprivileged host user that may not search the directories above them
// (a 0700 home or temporary directory); the descriptors reach them without
// that. The lower layer of an overlay Mount goes as an id-mapped mount
// instead (see idmappedTree).
func openPaths(pid int, ic initConfig) ([]int, error) {
	var fds []int
	for _, ref := range ic.hostPaths() {
		p := *ref.path
		if ref.idmap {
			fd, err := idmappedTree(pid, p)
			if err != nil {
				return fds, err
			}
			fds = append(fds, fd)
			continue
		}
		if ref.parent {
			p = filepath.Dir(p)
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root%s", pid, p), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds, fmt.Errorf("opening %s for the sandbox: %w", p, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// pathRef is a host path of an initConfig; parent says that the init is
// given its directory and looks the last element up by name, as it must for
// Merged to find the overlay mounted on it; idmap, that it is given an
// id-mapped mount of the path (see idmappedTree).
type pathRef struct {
	path   *string
	parent bool
	idmap  bool
}

// hostPaths lists the host paths the init uses, in the order their
// descriptors travel.
func (ic *initConfig) hostPaths() []pathRef {
	var refs []pathRef
	for _, p := range []*string{&ic.Root, &ic.Upper, &ic.Work, &ic.Unpack} {
		if *p != "" {
			refs = append(refs, pathRef{path: p})
		}
	}
	for i := range ic.Mounts {
		refs = append(refs, ic.Mounts[i].hostPaths()...)
	}
	if ic.Merged != "" {
		refs = append(refs, pathRef{path: &ic.Merged, parent: true})
	}
	return refs
}

// usePaths makes ic name its host paths by the descriptors fds, which
// arrived in hostPaths order.
func (ic *initConfig) usePaths(fds []int) error {
	refs := ic.hostPaths()
	if len(fds) != len(refs) {
		return fmt.Errorf("got %d path descriptors for %d paths", len(fds), len(refs))
	}
	for i, ref := range refs {
		p := fmt.Sprintf("/proc/self/fd/%d", fds[i])
		if ref.parent {
			p = filepath.Join(p, filepath.Base(*ref.path))
		}
		*ref.path = p
	}
	ic.PathFDs = fds
	return nil
}

// socketPair returns the two ends of a connected Unix stream socket, which
// carries the go-ahead like a pipe, and descriptors besides.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "lifeline"), os.NewFile(uintptr(fds[1]), "lifeline"), nil
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
		if waitErr == nil {
			return report{}, fmt.Errorf("%s: sandbox init ended without a report", ic.task())
		}
		return report{}, fmt.Errorf("%s: sandbox init ended without a report: %w", ic.task(), waitErr)
	}
	if rep.Error == "" {
		return rep, nil
	}
	if rep.Unavailable {
		return report{}, fmt.Errorf("%w: %s; build with `--sandbox none` on this machine", ErrUnavailable, rep.Error)
	}
	return report{}, &initError{msg: fmt.Sprintf("%s in sandbox: %s", ic.task(), rep.Error), causes: rep.causes()}
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
	case ic.View:
		return "mounting the overlay of " + ic.Mounts[0].Source
	}
	return "running " + ic.Args[0]
}
