package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/oci"
)

// storeKey names a per-image file or directory of the store: the name made
// readable for a file name, plus a hash of the exact name, so two names
// never share one ("a/b" and "a_b") and no name can be "." or "..".
func storeKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return idSafe(name) + "-" + hex.EncodeToString(sum[:8])
}

// servingDir holds one lock file per serving paas run.
func servingDir() string { return filepath.Join(oci.DefaultHome(), "run", "serving") }

// claimServing records this process as a paas run serving name: it holds an
// exclusive lock on run/serving/KEY.PID.lock for as long as it lives. A
// lock, unlike a pid file, dies with its process, so `paas run --replace`
// never signals a process that reused the pid of one killed with -9.
func claimServing(name string) (release func(), err error) {
	dir := servingDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%d.lock", storeKey(name), os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { os.Remove(path); f.Close() }, nil
}

// signalServing sends SIGHUP to every live paas run serving name and
// returns their pids; lock files left by killed ones are removed.
func signalServing(name string) ([]int, error) {
	locks, err := filepath.Glob(filepath.Join(servingDir(), storeKey(name)+".*.lock"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, path := range locks {
		pid, live, err := signalHolder(path)
		if err != nil {
			return pids, err
		}
		if live {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// signalHolder sends SIGHUP to the process holding the lock at path, if one
// does. The pid is taken as a pidfd and the lock checked again after, so
// the signal reaches the holder even if it exits and its pid is reused
// meanwhile.
func signalHolder(path string) (pid int, live bool, err error) {
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
	if err := unix.PidfdSendSignal(pidfd, unix.SIGHUP, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
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

// signalReplace asks every paas run serving the image to replace its
// process with the image as the store has it now (SIGHUP).
func signalReplace(env *cliEnv, ref string) error {
	name := ref
	if !isTransport(ref) {
		n, err := oci.NormalizeName(ref)
		if err != nil {
			return usageError{fmt.Sprintf("image %q: %v", ref, err)}
		}
		name = n
	}
	pids, err := signalServing(name)
	if err != nil {
		return fmt.Errorf("%w: %w", errRuntime, err)
	}
	if len(pids) == 0 {
		return fmt.Errorf("%w: no paas run is serving %s; start one with `paas run %s`", errRuntime, name, ref)
	}
	for _, pid := range pids {
		fmt.Fprintf(env.stderr, "-----> Asked paas run (pid %d) to replace %s; it logs the outcome\n", pid, name)
	}
	return nil
}
