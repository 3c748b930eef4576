package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	paashome "github.com/paas-dev/paas/home"
)

// What a buildpack writes outside /app, CACHE_DIR and /tmp never reaches
// the host or the stack, and host paths not mounted in are invisible.
func TestBuildSandboxIsolation(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		// A canary in the caller's home (HOME is the store's directory in
		// these tests), as a token file would be.
		secret := filepath.Join(h.dir, "home-canary")
		if err := os.WriteFile(secret, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		chown(t, secret, h.user)
		t.Cleanup(func() { os.Remove(secret) })
		app := appCopy(t, h.user, "hello")
		r := h.mustBuild(t, "-t", "escape", "-b", buildpackDir("escape"), "-e", "HOST_SECRET="+secret, app)
		if got := strings.TrimSpace(appFile(t, h, r.Image, "escape.txt")); got != "host-invisible" {
			t.Errorf("escape.txt = %q: a host path not mounted in was visible", got)
		}
		for _, p := range []string{"/etc/paas-escaped", "/usr/local/bin/paas-escaped", "/root/paas-escaped", "/var/tmp/paas-escaped", "/tmp/paas-escaped"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s reached the host", p)
				os.Remove(p)
			}
		}
		rootfs, _ := filepath.Glob(filepath.Join(h.dir, "rootfs", "*", "etc", "paas-escaped"))
		if len(rootfs) > 0 {
			t.Errorf("the stack's rootfs was modified: %v", rootfs)
		}
		app2 := appCopy(t, h.user, "hello")
		r2 := h.mustBuild(t, "-t", "escape2", "-b", buildpackDir("cache-env"), app2)
		img := storedImage(t, h, r2.Image)
		for name := range layerEntries(t, lastLayers(t, img, 1)[0]) {
			if strings.Contains(name, "paas-escaped") {
				t.Errorf("a later build sees %s", name)
			}
		}
	})
}

// Buildpack output reaches the user while the buildpack still runs.
func TestBuildStreamsOutput(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	cmd := h.command(nil, "build", "-t", "streaming", "-b", buildpackDir("streaming"), app)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var seen []string
	for sc.Scan() {
		line := sc.Text()
		seen = append(seen, line)
		if strings.Contains(line, "streaming-first-line") {
			// The buildpack waits for this file: the line arrived while it ran.
			cont := filepath.Join(h.dir, "cache", paashome.Key("streaming"), "continue")
			if err := os.WriteFile(cont, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(line, "streaming-second-line") {
			break
		}
	}
	for sc.Scan() {
		seen = append(seen, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(seen, "\n"))
	}
	all := strings.Join(seen, "\n")
	contains(t, "output", all, "streaming-second-line")
	contains(t, "output", all, "-----> Detecting buildpacks")
	contains(t, "output", all, "-----> Streaming app detected")
}
