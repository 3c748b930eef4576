package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemonReady bounds the wait for a fresh daemon to answer. It is a guard
// against a daemon that hangs, not a performance expectation.
const daemonReady = 60 * time.Second

// daemonStop is how long a stopping daemon gets before SIGKILL.
const daemonStop = 10 * time.Second

// daemon is a daemon process a test binary starts for itself: everything
// it keeps is under dir, its output goes to dir/NAME.log.
type daemon struct {
	name, dir string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// startDaemon starts the command name with args, logging to dir; its
// PATH includes /usr/sbin, where Debian puts runc.
func startDaemon(dir, name string, args ...string) (*daemon, error) {
	d := &daemon{name: name, dir: dir, exited: make(chan struct{})}
	logf, err := os.Create(d.log())
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	d.cmd = exec.Command(name, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.Env = withSbinPath(os.Environ())
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = d.cmd.Wait() // only the exit matters: stop waits for it
		close(d.exited)
	}()
	return d, nil
}

func (d *daemon) log() string { return filepath.Join(d.dir, d.name+".log") }

// waitReady polls ping until it succeeds, the daemon exits or daemonReady
// passes; the error ends with the daemon's log.
func (d *daemon) waitReady(ping func() error) error {
	deadline := time.Now().Add(daemonReady)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("%s exited: %v\n%s log:\n%s", d.name, d.cmd.ProcessState, d.name, tail(d.log()))
		default:
		}
		if last = ping(); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v: %w\n%s log:\n%s", d.name, daemonReady, last, d.name, tail(d.log()))
}

// stopProcess ends the daemon: SIGTERM, then SIGKILL.
func (d *daemon) stopProcess() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited already
	select {
	case <-d.exited:
	case <-time.After(daemonStop):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// remove unmounts what the daemon left under its directory and removes it.
func (d *daemon) remove() {
	unmountUnder(d.dir)
	os.RemoveAll(d.dir)
}

// sharedDaemon is the one daemon of a kind a test binary runs: starting
// one takes seconds, so every test reuses it until stop.
type sharedDaemon[D interface{ stop() }] struct {
	mu      sync.Mutex
	d       D
	started bool
	err     error
}

// get returns the daemon, starting it on first use. It fails the test in
// the -short tier, when not root, or when the command name is not
// installed (install says how to get it): daemon tests are a tier that CI
// runs, never something to skip.
func (s *sharedDaemon[D]) get(t testing.TB, name, install string, start func() (D, error)) D {
	t.Helper()
	requireDaemon(t, name, install)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started && s.err == nil {
		s.d, s.err = start()
		s.started = s.err == nil
	}
	if s.err != nil {
		t.Fatalf("starting %s: %v", name, s.err)
	}
	return s.d
}

// requireDaemon fails the test in the -short tier, when not root, or when
// the command name is not installed (install says how to get it).
func requireDaemon(t testing.TB, name, install string) {
	t.Helper()
	forbidInShort(t, "Daemon")
	if os.Geteuid() != 0 {
		t.Fatalf("%s tests need root: run them as root (CI does)", name)
	}
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: %s", name, install)
	}
}

// stop stops the daemon, if one was started.
func (s *sharedDaemon[D]) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		s.d.stop()
	}
	var zero D
	s.d, s.started, s.err = zero, false, nil
}
