package appfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpen(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("CANARY"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	mustWrite(t, filepath.Join(app, "Procfile"), "web: serve")
	mustWrite(t, filepath.Join(app, "conf", "real.env"), "A=1")
	links := map[string]string{
		"inside":       "Procfile",
		"inside-dir":   "conf/real.env",
		"absolute":     outside,
		"relative-out": "../" + filepath.Base(filepath.Dir(outside)) + "/secret",
		"proc":         "/proc/self/environ",
		"dotdot":       "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(app, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(app, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    string
		wantErr string
	}{
		{"Procfile", "web: serve", ""},
		{"inside", "web: serve", ""},
		{"inside-dir", "A=1", ""},
		{"absolute", "", "does not follow links out of the app"},
		{"relative-out", "", "does not follow links out of the app"},
		{"proc", "", "does not follow links out of the app"},
		{"dotdot/secret", "", "does not follow links out of the app"},
		{"fifo", "", "not a regular file"},
		{"conf", "", "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ReadFile(app, tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(string(data), "CANARY") {
					t.Errorf("ReadFile(%s) = %q, %v, want an error saying %q", tt.name, data, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(data) != tt.want {
				t.Errorf("ReadFile(%s) = %q, %v, want %q", tt.name, data, err, tt.want)
			}
		})
	}
	if _, err := Open(app, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
}

func mustWrite(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
