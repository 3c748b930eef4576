package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// Nothing of the caller reaches a buildpack: not its environment (in the
// buildpack's or the sandbox init's), not a descriptor it inherited without
// close-on-exec, not its controlling terminal.
func TestBuildLeaksNothingOfTheCaller(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *home) {
		canary := userTempDir(t, h.user)
		if err := os.WriteFile(filepath.Join(canary, "canary.txt"), []byte("canary-file-7f3a"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir, err := os.Open(canary)
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		_, tty := openPty(t)
		cmd := h.command([]string{"PAAS_CANARY=canary-env-7f3a"}, "build", "-t", "snoop", "-b", buildpackDir("snoop"), userTempDir(t, h.user))
		// Above the descriptors paas hands its sandbox init (3 and 4), as
		// a careless CI runner would leave one.
		cmd.ExtraFiles = []*os.File{tty, tty, tty, dir}
		cmd.Stdin = tty
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("paas build: %v\n%s", err, out.String())
		}
		snoop := appFile(t, h, "snoop:latest", "snoop.txt")
		if strings.Contains(snoop, "canary") {
			t.Errorf("the buildpack found the caller's canaries:\n%s", snoop)
		}
		contains(t, "snoop.txt", snoop, "tty: refused")
		if strings.Contains(snoop, "fd ") {
			t.Errorf("the buildpack has descriptors beyond stdio:\n%s", snoop)
		}
	})
}
