package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// servingDir holds one lock file per serving paas run.
func (h *Home) servingDir() string { return filepath.Join(h.Run(), "serving") }

// ClaimServing records this process as a paas run serving name: it holds
// an exclusive lock on run/serving/KEY.PID.lock for as long as it lives. A
// lock, unlike a pid file, dies with its process, so `paas run --replace`
// never signals a process that reused the pid of one killed with -9.
func (h *Home) ClaimServing(name string) (release func(), err error) {
	dir := h.servingDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("recording the serving process: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%d.lock", Key(name), os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("recording the serving process: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { os.Remove(path); f.Close() }, nil
}

// SignalServing sends sig to every live paas run serving name and returns
// their pids; lock files left by killed ones are removed.
func (h *Home) SignalServing(name string, sig unix.Signal) ([]int, error) {
	locks, err := filepath.Glob(filepath.Join(h.servingDir(), Key(name)+".*.lock"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, path := range locks {
		pid, live, err := signalHolder(path, sig)
		if err != nil {
			return pids, err
		}
		if live {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// signalHolder signals the process holding the lock at path, if one does.
// The pid is taken as a pidfd and the lock checked again after, so the
// signal reaches the holder even if it exits and its pid is reused
// meanwhile.
func signalHolder(path string, sig unix.Signal) (pid int, live bool, err error) {
	base := strings.TrimSuffix(filepath.Base(path), ".lock")
	pid, err = strconv.Atoi(base[strings.LastIndexByte(base, '.')+1:])
	if err != nil {
		return 0, false, nil
	}
	if !held(path) {
		os.Remove(path)
		return pid, false, nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return pid, false, nil
	}
	defer unix.Close(pidfd)
	if !held(path) {
		return pid, false, nil
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return pid, false, fmt.Errorf("signalling pid %d: %w", pid, err)
	}
	return pid, true, nil
}

// held reports whether some process holds the lock at path.
func held(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	return false
}
