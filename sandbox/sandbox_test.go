package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// fixture is one sandbox over the test stack with a fresh Upper and a
// read-write and a read-only host directory mounted.
type fixture struct {
	sb          Sandbox
	cfg         Config
	app, config string // host sources of /app and /config (read-only)
}

func newFixture(t testing.TB, m mode, network Network) *fixture {
	t.Helper()
	f := &fixture{app: scratchDir(t), config: scratchDir(t)}
	// What the caller makes for the sandbox to write is given to root
	// inside, as paas does with a build's directories.
	for _, dir := range []string{f.app, f.config} {
		if err := m.ids.own(dir); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg = Config{
		Root:  stackRoot(t),
		Upper: filepath.Join(scratchDir(t), "upper"),
		Mounts: []Mount{
			{Source: f.app, Target: "/app"},
			{Source: f.config, Target: "/config", ReadOnly: true},
		},
		Network: network,
	}
	sb, err := newWithIDs(f.cfg, m.ids)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	f.sb = sb
	return f
}

// scratchDir returns a directory that sandboxes may fill with files the
// caller cannot remove by itself, removed with RemoveAll after the test.
func scratchDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "paas-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := RemoveAll(dir); err != nil {
			t.Errorf("RemoveAll(%s) = %v, want nil", dir, err)
		}
	})
	return dir
}

// sh runs script with sh -c and returns its stdout and stderr.
func (f *fixture) sh(t *testing.T, script string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := f.sb.Run(context.Background(), &Cmd{Args: []string{"sh", "-c", script}, Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// mustSh runs script and fails the test unless it succeeds.
func (f *fixture) mustSh(t *testing.T, script string) string {
	t.Helper()
	out, errOut, err := f.sh(t, script)
	if err != nil {
		t.Fatalf("Run(%q) = %v, want nil; stderr:\n%s", script, err, errOut)
	}
	return out
}

// TestSandbox runs every behaviour under every id mapping this user has;
// TestRootless runs it again as an ordinary user.
func TestSandbox(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	tests := []struct {
		name string
		fn   func(*testing.T, mode)
	}{
		{"stack is root", testStackIsRoot},
		{"exit status", testExitStatus},
		{"output streams", testStreams},
		{"writes stay in upper", testWritesStayInUpper},
		{"tmp is private", testTmpIsPrivate},
		{"host paths hidden", testHostPathsHidden},
		{"mounts", testMounts},
		{"init is pid 1", testInitIsPid1},
		{"network none", testNetworkNone},
		{"network host", testNetworkHost},
		{"cancel kills", testCancelKills},
		{"upper persists", testUpperPersists},
		{"remove stack dir", testRemoveStackDir},
		{"devices", testDevices},
		{"ids", testIDs},
		{"dir and env", testDirAndEnv},
		{"command not found", testCommandNotFound},
		{"remove all", testRemoveAll},
		{"unpack", testUnpack},
		{"confined", testConfined},
	}
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.fn(t, m)
				})
			}
		})
	}
}

// BenchmarkRun measures the cost of one Run of a trivial command: starting
// the init, mounting the overlay and the rest, and tearing it all down.
func BenchmarkRun(b *testing.B) {
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) {
			f := newFixture(b, m, NetworkHost)
			cmd := &Cmd{Args: []string{"/bin/true"}}
			for b.Loop() {
				if err := f.sb.Run(context.Background(), cmd); err != nil {
					b.Fatalf("Run() = %v, want nil", err)
				}
			}
		})
	}
}

func testStackIsRoot(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	want, err := os.ReadFile(filepath.Join(f.cfg.Root, "etc/debian_version"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /etc/debian_version"); got != string(want) {
		t.Errorf("cat /etc/debian_version = %q, want %q", got, want)
	}
}

func testExitStatus(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	tests := []struct {
		name   string
		script string
		want   *ExitError
	}{
		{"success", "exit 0", nil},
		{"failure", "exit 3", &ExitError{Code: 3}},
		{"high", "exit 255", &ExitError{Code: 255}},
		{"signal", "kill -TERM $$", &ExitError{Code: 128 + 15, Signal: syscall.SIGTERM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.sh(t, tt.script)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Run(%q) = %v, want nil", tt.script, err)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) || *ee != *tt.want {
				t.Fatalf("Run(%q) = %v, want %v", tt.script, err, tt.want)
			}
		})
	}
}

// testStreams proves output arrives while the command still runs: the
// command waits for input that the test sends only after reading its first
// line.
func testStreams(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- f.sb.Run(context.Background(), &Cmd{
			Args:  []string{"sh", "-c", "echo ready; echo to-stderr >&2; read x; echo got-$x"},
			Stdin: inR, Stdout: outW, Stderr: &stderr,
		})
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	if got := readLine(t, lines); got != "ready" {
		t.Fatalf("first line = %q, want %q", got, "ready")
	}
	if _, err := io.WriteString(inW, "go\n"); err != nil {
		t.Fatal(err)
	}
	inW.Close()
	if got := readLine(t, lines); got != "got-go" {
		t.Fatalf("second line = %q, want %q", got, "got-go")
	}
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if got := stderr.String(); got != "to-stderr\n" {
		t.Errorf("stderr = %q, want %q", got, "to-stderr\n")
	}
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading output: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

func testWritesStayInUpper(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	etc := filepath.Join(f.cfg.Root, "etc")
	before := dirState(t, etc)
	f.mustSh(t, "touch /etc/x && echo changed >> /etc/debian_version")
	if after := dirState(t, etc); after != before {
		t.Errorf("Root/etc after Run = %s, want unchanged %s", after, before)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.Upper, "etc/x")); err != nil {
		t.Errorf("Upper/etc/x: %v, want the file written inside", err)
	}
}

// dirState summarizes a directory's entries, sizes and mtimes.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%d entries, mtime %v", len(entries), fi.ModTime().UnixNano())
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			s += fmt.Sprintf(";%s:%d", e.Name(), info.Size())
		}
	}
	return s
}

func testTmpIsPrivate(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	f.mustSh(t, "touch /tmp/scratch")
	if _, err := os.Stat(filepath.Join(f.cfg.Upper, "tmp/scratch")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Upper/tmp/scratch: %v, want not exist", err)
	}
	if got := f.mustSh(t, "stat -c %a /tmp; test -e /tmp/scratch && echo leaked || true"); got != "1777\n" {
		t.Errorf("second Run sees /tmp = %q, want %q", got, "1777\n")
	}
}

func testHostPathsHidden(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("test -e %s && echo visible || echo hidden; test -e %s && echo visible || echo hidden",
		secret, filepath.Join(f.cfg.Root, "etc/debian_version"))
	if got := f.mustSh(t, script); got != "hidden\nhidden\n" {
		t.Errorf("host paths inside = %q, want %q", got, "hidden\nhidden\n")
	}
}

func testMounts(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	if err := os.WriteFile(filepath.Join(f.config, "setting"), []byte("on"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustSh(t, "echo built > /app/out")
	if got, err := os.ReadFile(filepath.Join(f.app, "out")); err != nil || string(got) != "built\n" {
		t.Errorf("host /app/out = %q, %v; want %q", got, err, "built\n")
	}
	if got := f.mustSh(t, "cat /config/setting"); got != "on" {
		t.Errorf("cat /config/setting = %q, want %q", got, "on")
	}
	_, errOut, err := f.sh(t, "touch /config/new")
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("touch on read-only mount = %v (stderr %q), want an exit error for a read-only file system", err, errOut)
	}
}

func testInitIsPid1(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "echo $PPID; tr '\\0' ' ' < /proc/1/cmdline | cut -c1-17")
	want := "1\n" + initArg + "\n"
	if got != want {
		t.Errorf("pid and init cmdline = %q, want %q", got, want)
	}
}

func testNetworkNone(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkNone)
	got := f.mustSh(t, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate 2>/dev/null || true")
	if ifaces := strings.Fields(got); len(ifaces) == 0 || ifaces[0] != "lo" || len(ifaces) > 2 {
		t.Errorf("interfaces with NetworkNone = %q, want only lo", got)
	}
}

func testNetworkHost(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	want, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /proc/net/dev"); len(strings.Split(got, "\n")) != len(strings.Split(string(want), "\n")) {
		t.Errorf("/proc/net/dev inside = %q, want the host's interfaces %q", got, want)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /etc/resolv.conf"); got != string(resolv) {
		t.Errorf("/etc/resolv.conf inside = %q, want the host's %q", got, resolv)
	}
}

// testCancelKills cancels a Run whose command started a long sleep, and
// checks that Run reports the cancellation and no process survives.
func testCancelKills(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	marker := fmt.Sprintf("1000.%d", os.Getpid()*1000+len(m.name))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- f.sb.Run(ctx, &Cmd{Args: []string{"sh", "-c", "sleep " + marker + " & echo started; wait"}, Stdout: outW})
		outW.Close()
	}()
	if got := readLine(t, bufio.NewReader(outR)); got != "started" {
		t.Fatalf("first line = %q, want %q", got, "started")
	}
	cancel()
	go io.Copy(io.Discard, outR)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() after cancel = %v, want an error wrapping %v", err, context.Canceled)
	}
	if pids := processesWith(t, marker); len(pids) > 0 {
		t.Errorf("processes running sleep %s after cancel: %v, want none", marker, pids)
	}
}

// processesWith returns the pids whose command line contains s.
func processesWith(t *testing.T, s string) []int {
	t.Helper()
	matches, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range matches {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func testUpperPersists(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	f.mustSh(t, "echo kept > /root/note")
	if got := f.mustSh(t, "cat /root/note"); got != "kept\n" {
		t.Errorf("second Run reads %q, want %q", got, "kept\n")
	}
	again, err := newWithIDs(f.cfg, m.ids)
	if err != nil {
		t.Fatalf("New() with the same Upper = %v", err)
	}
	f.sb = again
	if got := f.mustSh(t, "cat /root/note"); got != "kept\n" {
		t.Errorf("new sandbox on the same Upper reads %q, want %q", got, "kept\n")
	}
}

// testRemoveStackDir removes and recreates a directory of the stack, which
// needs an opaque directory in the upper layer.
func testRemoveStackDir(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "rm -r /usr/share/doc && mkdir /usr/share/doc && ls -A /usr/share/doc | wc -l")
	if strings.TrimSpace(got) != "0" {
		t.Errorf("entries in recreated /usr/share/doc = %q, want 0", got)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.Root, "usr/share/doc/dpkg")); err != nil {
		t.Errorf("Root/usr/share/doc/dpkg after rm inside: %v, want it kept", err)
	}
}

func testDevices(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "echo x > /dev/null; head -c 16 /dev/urandom | wc -c; head -c 3 /dev/zero | wc -c; echo y > /dev/shm/y; cat /dev/shm/y")
	if want := "16\n3\ny\n"; got != want {
		t.Errorf("device output = %q, want %q", got, want)
	}
}

// testIDs runs a command as uid 1000 and chowns a file to it, which needs
// more than the caller's own id mapped.
func testIDs(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	var stdout bytes.Buffer
	err := f.sb.Run(context.Background(), &Cmd{Args: []string{"id", "-u"}, UID: 1000, GID: 1000, Stdout: &stdout})
	_, errOut, chownErr := f.sh(t, "touch /etc/owned && chown 1000:1000 /etc/owned && stat -c %u:%g /etc/owned")
	if m.ids.kind == mapSelf {
		if !errors.Is(err, ErrUnmappedID) {
			t.Errorf("Run(UID 1000) = %v, want %v", err, ErrUnmappedID)
		}
		if chownErr == nil {
			t.Errorf("chown 1000 with only the caller mapped = nil, want an error")
		}
		return
	}
	if err != nil || stdout.String() != "1000\n" {
		t.Errorf("Run(UID 1000) = %q, %v; want %q", stdout.String(), err, "1000\n")
	}
	if chownErr != nil {
		t.Fatalf("chown 1000 = %v, stderr %q", chownErr, errOut)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(f.cfg.Upper, "etc/owned"), &st); err != nil {
		t.Fatal(err)
	}
	want := hostID(m.ids, 1000)
	if int(st.Uid) != want {
		t.Errorf("host owner of Upper/etc/owned = %d, want %d", st.Uid, want)
	}
}

// hostID and hostGID are the host uid and gid that inside id maps to: for
// root the range's start plus id, otherwise the caller for 0 and a
// subordinate id for the others.
func hostID(ids idMap, id int) int  { return hostIDOf(ids, 0, ids.uid, id) }
func hostGID(ids idMap, id int) int { return hostIDOf(ids, 1, ids.gid, id) }

func hostIDOf(ids idMap, i, self, id int) int {
	switch {
	case ids.kind == mapRoot:
		return ids.sub[i].start + id
	case id == 0:
		return self
	}
	return ids.sub[i].start + id - 1
}

func testDirAndEnv(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	var stdout bytes.Buffer
	tests := []struct {
		name string
		cmd  Cmd
		want string
	}{
		{"default", Cmd{Args: []string{"sh", "-c", "pwd; echo $PATH; echo ${HOME-unset}"}}, "/\n" + DefaultPath + "\nunset\n"},
		{"given", Cmd{Args: []string{"sh", "-c", "pwd; echo $PATH $STACK"}, Dir: "/app", Env: []string{"PATH=/bin", "STACK=test"}}, "/app\n/bin test\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout.Reset()
			cmd := tt.cmd
			cmd.Stdout = &stdout
			if err := f.sb.Run(context.Background(), &cmd); err != nil || stdout.String() != tt.want {
				t.Errorf("Run() = %q, %v; want %q", stdout.String(), err, tt.want)
			}
		})
	}
}

func testCommandNotFound(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	err := f.sb.Run(context.Background(), &Cmd{Args: []string{"no-such-command"}})
	var ee *ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("Run(no-such-command) = %v, want a non-exit error naming it", err)
	}
}

// testRemoveAll removes what a command left that the caller cannot remove
// from outside when ids beyond its own are mapped: a directory without
// permissions, owned by uid 1000 inside.
func testRemoveAll(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	script := "mkdir -p /app/d/e && touch /app/d/e/f && chmod 0 /app/d/e /app/d"
	if m.ids.kind != mapSelf {
		script = "mkdir -p /app/d/e && touch /app/d/e/f && chown -R 1000:1000 /app/d && chmod 0 /app/d/e /app/d"
	}
	f.mustSh(t, script)
	if err := RemoveAll(filepath.Join(f.app, "d")); err != nil {
		t.Fatalf("RemoveAll() = %v, want nil", err)
	}
	if _, err := os.Lstat(filepath.Join(f.app, "d")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after RemoveAll() Lstat = %v, want not exist", err)
	}
}
