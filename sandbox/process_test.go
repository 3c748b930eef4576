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
)

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

func testInitIsPid1(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "echo $PPID; tr '\\0' ' ' < /proc/1/cmdline | cut -c1-17")
	want := "1\n" + initArg + "\n"
	if got != want {
		t.Errorf("pid and init cmdline = %q, want %q", got, want)
	}
}

// testCancelKills cancels a Run whose command started a long sleep, and
// checks that Run reports the cancellation and no process survives.
func testCancelKills(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	marker := fmt.Sprintf("1000.%d", os.Getpid()*1000+len(m.name))
	checkCancelKills(t, f.sb, marker)
}

// checkCancelKills cancels a Run of r whose command started a sleep named
// by marker, and checks that Run reports the cancellation and that no
// process survives.
func checkCancelKills(t *testing.T, r interface {
	Run(context.Context, *Cmd) error
}, marker string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, &Cmd{Args: []string{"sh", "-c", "sleep " + marker + " & echo started; wait"}, Stdout: outW})
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
