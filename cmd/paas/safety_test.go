package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paashome "github.com/paas-dev/paas/home"
)

// Names that would be paths ("..", "a/../b") are refused before any work;
// names that differ only in separators ("a/b", "a_b") never share a build
// cache.
func TestStoreNames(t *testing.T) {
	h := sharedHome(t, root)
	for _, args := range [][]string{
		{"build", "-t", "..", "-b", buildpackDir("hello"), appCopy(t, root, "hello")},
		{"build", "-t", "a/../b", "-b", buildpackDir("hello"), appCopy(t, root, "hello")},
		{"stack", "create", ".."},
		{"stack", "import", "..", testFixtureApp("hello")},
		{"rm", "../x"},
	} {
		out, code := h.paas(t, args...)
		if code != 2 || !strings.Contains(out.stderr, "invalid image name") {
			t.Errorf("paas %v: exit %d, want 2 and an invalid name\n%s", args, code, out.stderr)
		}
	}
	app := userTempDir(t, root)
	for _, tag := range []string{"cache/a", "cache_a", "cache/a"} {
		h.mustBuild(t, "-t", tag, "-b", buildpackDir("cache-env"), app)
	}
	want := map[string]string{"cache/a": "2", "cache_a": "1"}
	for tag, n := range want {
		if got := strings.TrimSpace(appFile(t, h, tag, "build-count")); got != n {
			t.Errorf("%s: build count %s, want %s (its own cache)", tag, got, n)
		}
	}
}

// A paas run killed with -9 leaves its lock file behind; --replace then
// finds no live holder and signals nothing, even though the recorded pid
// now belongs to another process.
func TestReplaceAfterKill(t *testing.T) {
	h := sharedHome(t, root)
	reused := exec.Command("sleep", "120")
	if err := reused.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reused.Process.Kill() })
	dir := filepath.Join(h.dir, "run", "serving")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, fmt.Sprintf("%s.%d.lock", paashome.Key("ghost:latest"), reused.Process.Pid))
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := h.paas(t, "run", "--replace", "ghost")
	if code != 32 {
		t.Errorf("paas run --replace: exit %d, want 32\n%s", code, out.stderr)
	}
	contains(t, "stderr", out.stderr, "no paas run is serving ghost:latest")
	exited := make(chan error, 1)
	go func() { exited <- reused.Wait() }()
	select {
	case err := <-exited:
		t.Errorf("the process that reused the pid was signalled: %v", err)
	case <-time.After(2 * time.Second):
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale lock %s kept: %v", stale, err)
	}
}
