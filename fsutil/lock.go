package fsutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a lock that is busy is tried again while a
// context can end the wait: flock itself cannot be interrupted by one.
const lockPoll = 50 * time.Millisecond

// LockFile opens path, creating it, and takes a flock on it (unix.LOCK_EX
// or unix.LOCK_SH), waiting for it while ctx allows; waiting, unless nil,
// is called once when the lock is busy, before the wait. Closing the file
// releases the lock, and so does the death of the process, so a killed
// process never leaves it held.
func LockFile(ctx context.Context, path string, how int, waiting func()) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := lockWait(ctx, f, how, waiting); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// lockWait takes the flock how on f for LockFile. With a context that
// never ends it blocks in the kernel; otherwise it polls.
func lockWait(ctx context.Context, f *os.File, how int, waiting func()) error {
	fd := int(f.Fd())
	for waited := false; ; waited = true {
		err := flock(fd, how|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		if !waited && waiting != nil {
			waiting()
		}
		if ctx.Done() == nil {
			return flock(fd, how)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// flock is unix.Flock, tried again when a signal interrupts it.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
