package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestHostPath(t *testing.T) {
	h := Host([]Mount{
		{Source: "/home/me/app", Target: "/app"},
		{Source: "/var/cache/paas", Target: "/app/cache"},
		{Source: "/srv/env", Target: "/env/"},
	})
	tests := []struct {
		name, target, want string
	}{
		{"mount target", "/app", "/home/me/app"},
		{"under target", "/app/bin/run", "/home/me/app/bin/run"},
		{"longest target wins", "/app/cache/x", "/var/cache/paas/x"},
		{"target with slash", "/env/KEY", "/srv/env/KEY"},
		{"prefix but not parent", "/application", "/application"},
		{"unmounted", "/etc/hosts", "/etc/hosts"},
		{"unclean", "/app/./bin/../lib", "/home/me/app/lib"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Path(tt.target); got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

func TestHostRun(t *testing.T) {
	app := t.TempDir()
	h := Host([]Mount{{Source: app, Target: "/app"}})
	tests := []struct {
		name    string
		cmd     Cmd
		want    string
		wantErr *ExitError
	}{
		{"runs in mapped dir", Cmd{Args: []string{"sh", "-c", "pwd; echo $PATH; echo ${HOME-unset}"}, Dir: "/app"}, app + "\n" + DefaultPath + "\nunset\n", nil},
		{"given env", Cmd{Args: []string{"sh", "-c", "echo $STACK"}, Env: []string{"PATH=/bin", "STACK=host"}}, "host\n", nil},
		{"exit status", Cmd{Args: []string{"sh", "-c", "echo partial; exit 4"}}, "partial\n", &ExitError{Code: 4}},
		{"signal", Cmd{Args: []string{"sh", "-c", "kill -KILL $$"}}, "", &ExitError{Code: 128 + 9, Signal: syscall.SIGKILL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			cmd := tt.cmd
			cmd.Stdout = &stdout
			err := h.Run(context.Background(), &cmd)
			if got := stdout.String(); got != tt.want {
				t.Errorf("Run() output = %q, want %q", got, tt.want)
			}
			var ee *ExitError
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("Run() = %v, want nil", err)
			case tt.wantErr != nil && (!errors.As(err, &ee) || *ee != *tt.wantErr):
				t.Errorf("Run() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHostWritesHost(t *testing.T) {
	app := t.TempDir()
	h := Host([]Mount{{Source: app, Target: "/app"}})
	out := h.Path("/app/out")
	if err := h.Run(context.Background(), &Cmd{Args: []string{"sh", "-c", "echo done > " + out}}); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if got, err := os.ReadFile(filepath.Join(app, "out")); err != nil || string(got) != "done\n" {
		t.Errorf("host file = %q, %v; want %q", got, err, "done\n")
	}
}

// TestHostCancel cancels a command that started a background sleep and
// checks that its whole process group died.
func TestHostCancel(t *testing.T) {
	h := Host(nil)
	marker := fmt.Sprintf("1000.%d", os.Getpid()*1000+7)
	checkCancelKills(t, h, marker)
}

func TestHostCommandNotFound(t *testing.T) {
	err := Host(nil).Run(context.Background(), &Cmd{Args: []string{"no-such-command"}})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Run(no-such-command) = %v, want %v", err, exec.ErrNotFound)
	}
}
