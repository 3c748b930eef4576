package main

import (
	"os"
	"path/filepath"
	"testing"
)

// misbehavingApp is an app telling the hang buildpack how to misbehave.
func misbehavingApp(t *testing.T, u user, how string) string {
	t.Helper()
	app := userTempDir(t, u)
	if err := os.WriteFile(filepath.Join(app, "misbehave"), []byte(how), 0o644); err != nil {
		t.Fatal(err)
	}
	chown(t, app, u)
	return app
}

// A build that never ends is stopped by --timeout, and so is everything it
// started; scripts that print without end fill no memory: compile's tail
// keeps a bounded line, release's stdout is refused past its cap.
func TestBuildLimits(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *home) {
		tests := []struct {
			how     string
			args    []string
			code    int
			message string
		}{
			{"compile-hangs", []string{"--timeout", "3s"}, exitTimeout, "the build ran longer than 3s, in compile"},
			{"compile-floods", []string{"--timeout", "5s"}, exitTimeout, "the build ran longer than 5s, in compile"},
			{"release-floods", nil, exitRelease, "bin/release printed more than paas reads (1048576 bytes)"},
		}
		for _, tt := range tests {
			t.Run(tt.how, func(t *testing.T) {
				args := append([]string{"build", "-q", "-t", "limits", "-b", buildpackDir("hang")}, tt.args...)
				out, code := h.paas(t, append(args, misbehavingApp(t, h.user, tt.how))...)
				if code != tt.code {
					t.Fatalf("exit %d, want %d\n%.2000s", code, tt.code, out.stderr)
				}
				contains(t, "stderr", out.stderr, tt.message)
			})
		}
	})
}
