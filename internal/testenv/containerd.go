package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"
)

var sharedContainerd sharedDaemon[*containerdDaemon]

type containerdDaemon struct {
	*daemon // its dir holds root, state, config, log and socket
	address string
}

// Containerd returns the socket address of a real containerd daemon private
// to this test binary, starting it on first use with its own config, root,
// state and socket under a temp dir. Tests should use their own namespace
// in it. TestMain must call StopContainerd after the tests run.
//
// It fails the test when not root or when containerd is not installed:
// daemon tests are a tier that CI runs, never something to skip.
func Containerd(t testing.TB) (address string) {
	t.Helper()
	return sharedContainerd.get(t, "containerd", "install it with `apt-get install containerd runc`", startContainerd).address
}

// StopContainerd stops the shared daemon, if one was started, and removes
// its directories. Call it from TestMain after m.Run.
func StopContainerd() { sharedContainerd.stop() }

func startContainerd() (_ *containerdDaemon, retErr error) {
	// Unix socket paths must stay under 108 bytes, so the temp dir is
	// under /tmp whatever TMPDIR says.
	dir, err := os.MkdirTemp("/tmp", "ctrd-")
	if err != nil {
		return nil, err
	}
	address := filepath.Join(dir, "c.sock")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(dir, address)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	dmn, err := startDaemon(dir, "containerd", "--config", cfg,
		"--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--address", address)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &containerdDaemon{daemon: dmn, address: address}
	if err := d.waitReady(d.ping); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// containerdConfig keeps the daemon away from the host's: its own paths,
// and no CRI plugin, which a build tool does not need and which would
// look for CNI.
func containerdConfig(dir, address string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), address, filepath.Join(dir, "opt"))
}

// withSbinPath makes sure the daemon's shims find runc in /usr/sbin.
func withSbinPath(env []string) []string {
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			if !slices.Contains(filepath.SplitList(p), "/usr/sbin") {
				env[i] = kv + ":/usr/sbin:/sbin"
			}
			return env
		}
	}
	return append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

// ping asks the daemon for its version.
func (d *containerdDaemon) ping() error {
	if _, err := os.Stat(d.address); err != nil {
		return err
	}
	c, err := client.New(d.address, client.WithTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.Version(ctx)
	return err
}

// stop ends the daemon, the shims it started for this daemon's socket,
// unmounts what is left under its directory and removes it.
func (d *containerdDaemon) stop() {
	d.stopProcess()
	killShims(d.address)
	d.remove()
}

// killShims kills the shim processes serving this daemon, which outlive it
// when a test left a task behind. They are recognised by the daemon's
// private socket address on their command line.
func killShims(address string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("\x00"+address+"\x00")) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL) // it may be gone already
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			fmt.Fprintf(os.Stderr, "testenv: unmounting %s: %v\n", m, err)
		}
	}
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
