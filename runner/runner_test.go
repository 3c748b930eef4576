package runner

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/sandbox"
)

func TestAddress(t *testing.T) {
	tests := []struct {
		name, flag, env, want string
	}{
		{"flag wins", "/flag.sock", "/env.sock", "/flag.sock"},
		{"environment", "", "/env.sock", "/env.sock"},
		{"default", "", "", DefaultAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(AddressEnv, tt.env)
			if got := Address(tt.flag); got != tt.want {
				t.Errorf("Address(%q) with $%s=%q = %q, want %q", tt.flag, AddressEnv, tt.env, got, tt.want)
			}
		})
	}
}

func TestImageArgs(t *testing.T) {
	tests := []struct {
		name    string
		cfg     v1.Config
		args    []string
		want    []string
		wantErr bool
	}{
		{"image default", v1.Config{Entrypoint: []string{"/paas/launcher"}, Cmd: []string{"web"}}, nil, []string{"/paas/launcher", "web"}, false},
		{"args replace cmd", v1.Config{Entrypoint: []string{"/paas/launcher"}, Cmd: []string{"web"}}, []string{"env"}, []string{"/paas/launcher", "env"}, false},
		{"empty args drop cmd", v1.Config{Entrypoint: []string{"/paas/launcher"}, Cmd: []string{"web"}}, []string{}, []string{"/paas/launcher"}, false},
		{"no entrypoint", v1.Config{Cmd: []string{"sh"}}, []string{"true"}, []string{"true"}, false},
		{"nothing to run", v1.Config{}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := imageArgs(tt.cfg, Spec{ID: "x", Args: tt.args})
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("imageArgs(%+v, %q) = %q, %v, want %q (error: %v)", tt.cfg, tt.args, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCheckSpec(t *testing.T) {
	img := fakeImage{}
	tests := []struct {
		name    string
		spec    Spec
		wantErr bool
	}{
		{"valid", Spec{ID: "hello-web-1", Image: img}, false},
		{"no id", Spec{Image: img}, true},
		{"path id", Spec{ID: "../x", Image: img}, true},
		{"dot dot", Spec{ID: "..", Image: img}, true},
		{"no image", Spec{ID: "x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkSpec(tt.spec); (err != nil) != tt.wantErr {
				t.Errorf("checkSpec(%+v) = %v, want error: %v", tt.spec, err, tt.wantErr)
			}
		})
	}
}

// fakeImage stands for an image where only its presence matters.
type fakeImage struct{ v1.Image }

func TestExitFromStatus(t *testing.T) {
	tests := []struct {
		code int
		want Exit
	}{
		{0, Exit{}},
		{3, Exit{Code: 3}},
		{128, Exit{Code: 128}},
		{137, Exit{Code: 137, Signal: "SIGKILL"}},
		{143, Exit{Code: 143, Signal: "SIGTERM"}},
		{255, Exit{Code: 255}},
	}
	for _, tt := range tests {
		if got := exitFromStatus(tt.code); got != tt.want {
			t.Errorf("exitFromStatus(%d) = %+v, want %+v", tt.code, got, tt.want)
		}
	}
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		user     string
		uid, gid int
		wantErr  bool
	}{
		{"", 0, 0, false},
		{"1000:1000", 1000, 1000, false},
		{"1000:50", 1000, 50, false},
		{"1000", 1000, 0, false},
		{"app", 0, 0, true},
		{"1000:staff", 0, 0, true},
		{"-1:0", 0, 0, true},
	}
	for _, tt := range tests {
		uid, gid, err := parseUser(tt.user)
		if uid != tt.uid || gid != tt.gid || (err != nil) != tt.wantErr {
			t.Errorf("parseUser(%q) = %d, %d, %v, want %d, %d (error: %v)", tt.user, uid, gid, err, tt.uid, tt.gid, tt.wantErr)
		}
	}
}

func TestProcessEnv(t *testing.T) {
	tests := []struct {
		name         string
		image, extra []string
		want         []string
	}{
		{"default path", nil, []string{"PORT=5000"}, []string{"PATH=" + sandbox.DefaultPath, "PORT=5000"}},
		{"image path", []string{"PATH=/bin", "A=1"}, nil, []string{"PATH=/bin", "A=1"}},
		{"extra replaces in place", []string{"PATH=/bin", "A=1", "B=2"}, []string{"A=3", "C=4"}, []string{"PATH=/bin", "A=3", "B=2", "C=4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := processEnv(tt.image, tt.extra); !slices.Equal(got, tt.want) {
				t.Errorf("processEnv(%q, %q) = %q, want %q", tt.image, tt.extra, got, tt.want)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	tests := []struct {
		name, cmd, dir, path string
		want                 []string
	}{
		{"absolute", "/paas/launcher", "/app", "/bin", []string{"paas/launcher"}},
		{"relative to dir", "bin/web", "/app", "/bin", []string{"app/bin/web"}},
		{"no dir", "bin/web", "", "/bin", []string{"bin/web"}},
		{"searched", "sh", "/app", "/usr/bin:/bin:rel", []string{"usr/bin/sh", "bin/sh", "app/rel/sh"}},
		{"escape", "/../../etc/passwd", "", "", []string{"etc/passwd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := candidates(tt.cmd, tt.dir, tt.path); !slices.Equal(got, tt.want) {
				t.Errorf("candidates(%q, %q, %q) = %q, want %q", tt.cmd, tt.dir, tt.path, got, tt.want)
			}
		})
	}
}
