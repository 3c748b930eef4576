package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// servingDir holds one lock file per serving paas run.
func (h *Home) servingDir() string { return filepath.Join(h.Run(), "serving") }

// Serving is this process's record as a paas run serving a name: a lock
// file, run/serving/KEY.PID.lock, held for as long as the process lives,
// and beside it the status the process last gave (KEY.PID.json). A lock,
// unlike a pid file, dies with its process, so `paas run --replace` never
// signals a process that reused the pid of one killed with -9.
type Serving struct {
	lock       *os.File
	lockPath   string
	statusPath string
}

// ClaimServing records this process as a paas run serving name.
func (h *Home) ClaimServing(name string) (*Serving, error) {
	dir := h.servingDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("recording the serving process: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%s.%d", Key(name), os.Getpid()))
	f, err := os.OpenFile(base+".lock", os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("recording the serving process: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", base+".lock", err)
	}
	return &Serving{lock: f, lockPath: base + ".lock", statusPath: base + ".json"}, nil
}

// SetStatus replaces the status recorded, atomically.
func (s *Serving) SetStatus(status []byte) error {
	return fsutil.WriteFileData(s.statusPath, 0o644, status)
}

// Release removes the record; the process no longer serves.
func (s *Serving) Release() {
	os.Remove(s.statusPath)
	os.Remove(s.lockPath)
	s.lock.Close()
}

// ServingStatus returns the status each live paas run last recorded, by
// pid; records left by killed ones are removed.
func (h *Home) ServingStatus() (map[int][]byte, error) {
	locks, err := filepath.Glob(filepath.Join(h.servingDir(), "*.lock"))
	if err != nil {
		return nil, err
	}
	out := map[int][]byte{}
	for _, path := range locks {
		base := strings.TrimSuffix(path, ".lock")
		if !held(path) {
			os.Remove(path)
			os.Remove(base + ".json")
			continue
		}
		status, err := os.ReadFile(base + ".json")
		if err != nil {
			continue // not recorded yet
		}
		if pid, ok := pidOf(path); ok {
			out[pid] = status
		}
	}
	return out, nil
}

// ServingPids returns the pids of the live paas runs serving name.
func (h *Home) ServingPids(name string) []int {
	locks, _ := filepath.Glob(filepath.Join(h.servingDir(), Key(name)+".*.lock"))
	var pids []int
	for _, path := range locks {
		if pid, ok := pidOf(path); ok && held(path) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// LogFile is where a detached paas run serving name writes its output.
func (h *Home) LogFile(name string) string {
	return filepath.Join(h.Run(), "logs", Key(name)+".log")
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
	pid, ok := pidOf(path)
	if !ok {
		return 0, false, nil
	}
	if !held(path) {
		os.Remove(path)
		os.Remove(strings.TrimSuffix(path, ".lock") + ".json")
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

// pidOf reads the pid in a lock file's name, KEY.PID.lock.
func pidOf(path string) (int, bool) {
	base := strings.TrimSuffix(filepath.Base(path), ".lock")
	pid, err := strconv.Atoi(base[strings.LastIndexByte(base, '.')+1:])
	return pid, err == nil
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
