package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
)

// DetachedEnv is set in the environment of the paas run that Detach
// starts: it is the detached process and serves in the foreground of its
// own session.
const DetachedEnv = "PAAS_DETACHED"

// Detach starts `paas args…` (a paas run) in a session of its own, its
// output appended to h.LogFile(name), so that it keeps serving after the
// shell that started it exits (name: the serving name of ref, the image
// given to paas run). It returns the process's pid once it says
// every process of its formation started (through $NOTIFY_SOCKET, as it
// tells systemd); if it exits first, the error has its exit status and the
// end of its log. Ending ctx meanwhile stops it.
func Detach(ctx context.Context, h *home.Home, ref string, args []string) (int, error) {
	name, err := servingName(ref)
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding paas's own path: %w", err)
	}
	logPath := h.LogFile(name)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, fmt.Errorf("creating the log directory: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("opening the log: %w", err)
	}
	defer logf.Close()
	start, _ := logf.Seek(0, io.SeekEnd)
	ready, sockPath, err := readySocket()
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(filepath.Dir(sockPath))
	defer ready.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath, DetachedEnv+"="+logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting paas run: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	up := make(chan struct{})
	go waitReady(ready, up)
	select {
	case <-up:
		pid := cmd.Process.Pid
		_ = cmd.Process.Release()
		return pid, nil
	case err := <-exited:
		code := cmd.ProcessState.ExitCode()
		tail := logTail(logPath, start)
		if code <= 0 {
			return 0, fmt.Errorf("paas run ended before serving: %w; its log %s ends:\n%s", err, logPath, tail)
		}
		return 0, fmt.Errorf("paas run -d: %w before serving; its log %s ends:\n%s", ExitError{code}, logPath, tail)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited //nolint:errcheck // it was stopped: how it ended says nothing more
		return 0, ctx.Err()
	}
}

// readySocket listens for the detached process's notifications in a new
// private directory under the temporary directory (a socket's path may
// not be long, which one under $PAAS_HOME could be).
func readySocket() (*net.UnixConn, string, error) {
	dir, err := os.MkdirTemp("", "paas-notify-")
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "s")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("listening for paas run's readiness: %w", err)
	}
	return c, path, nil
}

// waitReady closes up when READY=1 arrives on c.
func waitReady(c *net.UnixConn, up chan<- struct{}) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "READY=1" {
				close(up)
				return
			}
		}
	}
}

// logTail returns the last lines of the log written since offset.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	tail := console.NewTail(20)
	if _, err := io.Copy(tail, f); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return console.Indent + strings.Join(tail.Lines(), "\n"+console.Indent)
}
