package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The init is this executable started with one of these as argv[0]; an
// argv marker, unlike an environment variable, cannot leak into the
// commands the sandbox runs.
const (
	initArg       = "paas-sandbox-init"
	initAgainArg  = "paas-sandbox-init-mapped"
	errNotReexecd = "sandbox.Reexec was not called at the start of main (or TestMain)"
)

// reexecCalled records that Reexec ran, so that New does not start an init
// that would instead run the program's main again.
var reexecCalled bool

// Reexec must be called first in main, and in TestMain of any package whose
// tests use the sandbox. When this process is a sandbox's init it runs the
// sandbox and exits; otherwise it returns false.
func Reexec() bool {
	reexecCalled = true
	if len(os.Args) < 2 || (os.Args[0] != initArg && os.Args[0] != initAgainArg) {
		return false
	}
	os.Exit(initMain(os.Args[0] == initAgainArg, os.Args[1]))
	return true
}

func checkReexec() error {
	if !reexecCalled {
		return errors.New(errNotReexecd)
	}
	return nil
}

// initMain is the init: pid 1 of the sandbox's pid namespace. It returns the
// exit status for the init to end with.
func initMain(mapped bool, arg string) int {
	reportW := os.NewFile(reportFD, "report")
	life := os.NewFile(lifelineFD, "lifeline")
	var ic initConfig
	if err := json.Unmarshal([]byte(arg), &ic); err != nil {
		return sendReport(reportW, report{Error: "decoding config: " + err.Error()})
	}
	if !mapped {
		fds, err := awaitGo()
		if err != nil {
			return 1 // the parent died before releasing us
		}
		if ic.PassPaths {
			if err := ic.usePaths(fds); err != nil {
				return sendReport(reportW, report{Error: err.Error()})
			}
		}
		if ic.MapLater {
			return execAgain(reportW)
		}
	}
	if err := watchParent(life); err != nil {
		return sendReport(reportW, report{Error: err.Error()})
	}
	if err := closeInherited(); err != nil {
		return sendReport(reportW, report{Error: err.Error()})
	}
	return sendReport(reportW, runSandbox(ic))
}

// awaitGo waits for the parent's go-ahead on the lifeline and returns the
// descriptors that came with it; io.EOF says the parent is gone.
func awaitGo() ([]int, error) { return receiveFDs(lifelineFD) }

// receiveFDs reads one message from the socket fd and returns the
// descriptors it carried, or io.EOF when the other end closed first.
func receiveFDs(fd int) ([]int, error) {
	oob := make([]byte, unix.CmsgSpace(4*maxPathFDs))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, io.EOF
		}
		return receivedFDs(oob[:oobn])
	}
}

// maxPathFDs bounds the descriptors the go-ahead carries: the paths of a
// config (see hostPaths), far more than a build mounts.
const maxPathFDs = 64

func receivedFDs(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, err
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// execAgain executes the init again now that its ids are mapped: a process
// that was unmapped at execve has no capabilities in its namespace, and one
// that is root there gains them all at the next execve.
func execAgain(reportW *os.File) int {
	args := append([]string{initAgainArg}, os.Args[1:]...)
	err := syscall.Exec("/proc/self/exe", args, os.Environ())
	return sendReport(reportW, report{Error: fmt.Sprintf("executing init again: %v", err)})
}

// watchParent makes the init die with its parent. The execve that raised
// the capabilities cleared Pdeathsig, so it is set again, and EOF on the
// lifeline covers the parent dying before that.
func watchParent(life *os.File) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting parent death signal: %w", err)
	}
	syscall.CloseOnExec(lifelineFD)
	go func() {
		_, _ = life.Read(make([]byte, 1))
		os.Exit(1)
	}()
	return nil
}

// closeInherited marks every descriptor above stdio close-on-exec: the
// report and lifeline pipes, and any descriptor that paas itself inherited
// without the flag (a directory descriptor would be a way out of the
// sandbox's root), so the command gets stdio alone.
func closeInherited() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("closing inherited descriptors: %w", err)
	}
	return nil
}

// runSandbox builds the sandbox and runs the command in it.
func runSandbox(ic initConfig) report {
	switch {
	case ic.Remove != "":
		return removeReport(ic.Remove)
	case ic.Unpack != "":
		return unpackReport(ic.Unpack, ic.Owners)
	case ic.View:
		return viewReport(ic)
	}
	if ic.Probe && ic.Root == "" {
		return report{}
	}
	err := setup(ic)
	// The host paths are mounted now; no descriptor of them may stay
	// open where the command could reach it through /proc/1/fd.
	for _, fd := range ic.PathFDs {
		unix.Close(fd)
	}
	if err != nil {
		var ue unavailableError
		rep := errorReport(err)
		rep.Unavailable = errors.As(err, &ue)
		return rep
	}
	if ic.Probe {
		return report{}
	}
	ws, err := runCommand(ic)
	if err != nil {
		return report{Error: err.Error()}
	}
	if ee := exitErrorFrom(ws); ee != nil {
		return report{Code: ee.Code, Signal: ee.Signal}
	}
	return report{}
}

// sendReport writes rep for the parent and returns the init's exit status.
func sendReport(w *os.File, rep report) int {
	_ = json.NewEncoder(w).Encode(rep)
	w.Close()
	switch {
	case rep.Error != "":
		return 125
	case rep.Signal != 0:
		return 128 + int(rep.Signal)
	}
	return rep.Code
}

// runCommand starts the command as a child and waits for it, forwarding
// termination signals and, as pid 1 must, reaping every orphan.
func runCommand(ic initConfig) (syscall.WaitStatus, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	p, err := startCommand(ic)
	if err != nil {
		return 0, err
	}
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			_ = p.Signal(sig)
			continue
		}
		if ws, done := reap(p.Pid); done {
			return ws, nil
		}
	}
	panic("unreachable: signal channel closed")
}

// reap collects every exited child and reports the command's status once
// it is among them.
func reap(pid int) (syscall.WaitStatus, bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || got <= 0 {
			return 0, false
		}
		if got == pid {
			return ws, true
		}
	}
}

// startCommand starts the command, confined by harden. The init's
// goroutine stays on the hardened thread for good: it only waits and
// forwards signals from here on.
func startCommand(ic initConfig) (*os.Process, error) {
	path, err := lookPath(ic.Args[0], envValue(ic.Env, "PATH"))
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	if err := harden(); err != nil {
		return nil, err
	}
	dir := ic.Dir
	if dir == "" {
		dir = "/"
	}
	if ic.Limits.Pids > 0 {
		// Counted per user: a second line behind the pids cgroup, and the
		// only one where the host delegates no cgroups.
		lim := &unix.Rlimit{Cur: uint64(ic.Limits.Pids), Max: uint64(ic.Limits.Pids)}
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, lim); err != nil {
			return nil, fmt.Errorf("limiting processes: %w", err)
		}
	}
	cred := &syscall.Credential{Uid: uint32(ic.UID), Gid: uint32(ic.GID), Groups: []uint32{}, NoSetGroups: !ic.SetGroups}
	p, err := os.StartProcess(path, ic.Args, &os.ProcAttr{
		Dir:   dir,
		Env:   ic.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Credential: cred},
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", ic.Args[0], err)
	}
	return p, nil
}
