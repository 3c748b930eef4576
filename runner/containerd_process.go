package runner

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// containerdProcess is a started container task.
type containerdProcess struct {
	id        string
	container client.Container
	task      client.Task
	done      chan struct{}
	exit      Exit // set before done is closed

	mu      sync.Mutex // serializes Stop
	removed bool
}

func (p *containerdProcess) ID() string            { return p.id }
func (p *containerdProcess) Done() <-chan struct{} { return p.done }
func (p *containerdProcess) Exit() Exit            { return p.exit }

// wait records the task's exit once it happened and its output has been
// copied.
func (p *containerdProcess) wait(exited <-chan client.ExitStatus) {
	st := <-exited
	p.task.IO().Wait()
	p.exit = exitFromStatus(int(st.ExitCode()))
	close(p.done)
}

// exitFromStatus describes a container's exit status. Containers report a
// process killed by signal n as 128+n, which is taken to mean the signal.
func exitFromStatus(code int) Exit {
	if sig := syscall.Signal(code - 128); code > 128 && unix.SignalName(sig) != "" {
		return exitFromSignal(sig)
	}
	return Exit{Code: code}
}

// Stop stops the task (SIGTERM, then SIGKILL after timeout) and deletes
// the task, the container and its snapshot.
func (p *containerdProcess) Stop(ctx context.Context, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed {
		return nil
	}
	term := func() error { return p.signal(ctx, syscall.SIGTERM) }
	kill := func() error { return p.signal(ctx, syscall.SIGKILL) }
	if err := terminate(ctx, p.done, timeout, term, kill); err != nil {
		return fmt.Errorf("stopping %s: %w", p.id, err)
	}
	if err := p.remove(ctx); err != nil {
		return fmt.Errorf("stopping %s: %w", p.id, err)
	}
	p.removed = true
	return nil
}

// signal sends sig to the task's process; one that has just exited is not
// an error.
func (p *containerdProcess) signal(ctx context.Context, sig syscall.Signal) error {
	if err := p.task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("sending %v: %w", unix.SignalName(sig), err)
	}
	return nil
}

// remove deletes the exited task, then the container and its snapshot.
func (p *containerdProcess) remove(ctx context.Context) error {
	if _, err := p.task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("deleting task: %w", err)
	}
	if err := p.container.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("deleting container: %w", err)
	}
	return nil
}
