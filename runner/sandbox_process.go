package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/paas-dev/paas/sandbox"
)

// stopWrapper runs the process in the sandbox: `sh -c script wrapper
// COMMAND ARGS...`. The sandbox kills everything at once when its context
// ends (SIGKILL) and offers no way to signal the process, so the wrapper
// gives Stop a graceful first step: it reads its stdin, a pipe only Stop
// writes to, and when Stop closes it, sends SIGTERM to the process. It
// then ends as the process did, re-raising the signal that killed it so
// the sandbox reports it. The process itself gets /dev/null as stdin, as
// in containerd.
//
// sandbox could make this unnecessary with a way to signal a running
// command, such as a Cmd.Cancel func(*os.Process) error like exec.Cmd's.
var stopWrapper = []string{"/bin/sh", "-c", stopScript, "paas-stop-wrapper"}

const stopScript = `exec 3<&0 </dev/null
"$@" 3<&- &
child=$!
(read -r stop <&3; kill -TERM "$child") 2>/dev/null &
watcher=$!
exec 3<&-
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
if [ "$status" -gt 128 ] && [ "$status" -le 143 ]; then
	kill -"$((status - 128))" "$$"
fi
exit "$status"
`

// sandboxProcess is a process running in its own sandbox.
type sandboxProcess struct {
	id    string
	dir   string   // the process's writable layer; removed by Stop
	stopW *os.File // closing it makes the stop wrapper send SIGTERM
	kill  context.CancelFunc
	done  chan struct{}
	exit  Exit // set before done is closed

	mu      sync.Mutex // serializes Stop
	removed bool
}

func (p *sandboxProcess) ID() string            { return p.id }
func (p *sandboxProcess) Done() <-chan struct{} { return p.done }
func (p *sandboxProcess) Exit() Exit            { return p.exit }

// UpperDir is the overlay's upper directory, which sandbox.New was given.
func (p *sandboxProcess) UpperDir() string { return filepath.Join(p.dir, "upper") }

var _ Changes = (*sandboxProcess)(nil)

// finish records how the sandbox's Run ended.
func (p *sandboxProcess) finish(err error, stderr io.Writer) {
	p.exit = exitFromRun(err, stderr)
	close(p.done)
}

// Stop closes the stop pipe (SIGTERM), kills the sandbox after timeout
// and removes the process's writable layer.
func (p *sandboxProcess) Stop(ctx context.Context, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed {
		return nil
	}
	term := func() error {
		_ = p.stopW.Close() // closed already when Stop is retried
		return nil
	}
	kill := func() error {
		p.kill()
		return nil
	}
	if err := terminate(ctx, p.done, timeout, term, kill); err != nil {
		return fmt.Errorf("stopping %s: %w", p.id, err)
	}
	_ = p.stopW.Close()
	p.kill()
	if err := sandbox.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("stopping %s: %w", p.id, err)
	}
	p.removed = true
	return nil
}
