package main

import (
	"fmt"
	"strings"
	"testing"
)

// The writer app writes into its own directory under /app when it starts
// and serves what it wrote with the owners it sees. /app belongs to the
// run user 1000:1000 on containerd and on the sandbox runtime, as root and
// as an ordinary user with subordinate ids; an ordinary user without them
// (no newuidmap in PATH) gets a note and the app runs as root inside the
// sandbox, which owns /app.
func TestRunAppWritesItsDirectory(t *testing.T) {
	asRoot := func(*testing.T) user { return root }
	tests := []struct {
		name    string
		user    func(*testing.T) user
		runtime string
		env     []string
		uid     int  // the app's uid and the owner of what it sees
		note    bool // paas says the app runs as root inside
	}{
		{"root/containerd", asRoot, "containerd", nil, 1000, false},
		{"root/sandbox", asRoot, "sandbox", nil, 1000, false},
		{"rootless/sandbox", unprivileged, "sandbox", nil, 1000, false},
		{"rootless-without-subids/sandbox", unprivileged, "sandbox", []string{"PATH=/nonexistent"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user(t)
			h := sharedHome(t, u)
			h.mustBuild(t, "-t", "writer", appCopy(t, u, "writer"))
			s := startRunEnv(t, h, tt.env, append(runtimeArgs(t, tt.runtime), "--check", "/", "writer")...)
			code, _, body := get(t, s.url+"/", nil)
			want := fmt.Sprintf("written at start by uid %[1]d\n/app owned by %[1]d:%[1]d\n"+
				"/app/data owned by %[1]d:%[1]d\n/app/data/started.txt owned by %[1]d:%[1]d\n", tt.uid)
			if code != 200 || body != want {
				t.Errorf("GET = %d %q, want 200 %q\n%s", code, body, want, s.log())
			}
			if got := strings.Contains(s.log(), "running it as root inside the sandbox"); got != tt.note {
				t.Errorf("log mentions running as root: %v, want %v\n%s", got, tt.note, s.log())
			}
			if code := s.stop(); code != 0 {
				t.Errorf("exit after SIGINT = %d\n%s", code, s.log())
			}
		})
	}
}
