package main

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// Each failure has its own exit code and a message naming the problem; a
// failed build leaves the store and existing tags untouched.
func TestBuildErrors(t *testing.T) {
	h := sharedHome(t, root)
	hello := appCopy(t, root, "hello")
	before := h.mustBuild(t, "-t", "victim", "-b", buildpackDir("hello"), hello)

	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	badProcfile := appCopy(t, root, "hello")
	os.WriteFile(filepath.Join(badProcfile, "Procfile"), []byte("web: perl server.pl\nworker perl worker.pl\n"), 0o644)
	dupProcfile := appCopy(t, root, "hello")
	os.WriteFile(filepath.Join(dupProcfile, "Procfile"), []byte("web: a\n\nweb: b\n"), 0o644)
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "README"), []byte("nothing to detect"), 0o644)

	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"missing dir", nil, []string{"build", "-t", "victim", "/nonexistent/app"}, exitApp, []string{"/nonexistent/app does not exist"}},
		{"not a dir", nil, []string{"build", "-t", "victim", notDir}, exitApp, []string{"is not a directory"}},
		{"nothing detects", []string{"PAAS_BUILDPACKS=" + buildpackDir("never")}, []string{"build", "-t", "victim", plain}, exitDetect, []string{"no buildpack detected", buildpackDir("never")}},
		{"no buildpacks at all", nil, []string{"build", "-t", "victim", plain}, exitDetect, []string{"--buildpack"}},
		{"explicit not compatible", nil, []string{"build", "-t", "victim", "-b", buildpackDir("never"), hello}, exitDetect, []string{"not compatible with buildpack " + buildpackDir("never")}},
		{"no bin/compile", nil, []string{"build", "-t", "victim", "-b", buildpackDir("no-compile"), hello}, exitBuildpack, []string{"bin/compile"}},
		{"compile fails", nil, []string{"build", "-t", "victim", "-b", buildpackDir("fail-compile"), hello}, exitCompile, []string{"exited with status 3", "compile failed on purpose", "output line 30"}},
		{"invalid release YAML", nil, []string{"build", "-t", "victim", "-b", buildpackDir("bad-release"), hello}, exitRelease, []string{"invalid YAML"}},
		{"malformed Procfile", nil, []string{"build", "-t", "victim", "-b", buildpackDir("hello"), badProcfile}, exitProcfile, []string{"line 2"}},
		{"duplicate Procfile type", nil, []string{"build", "-t", "victim", "-b", buildpackDir("hello"), dupProcfile}, exitProcfile, []string{"line 3", "web"}},
		{"unknown stack", nil, []string{"build", "-t", "victim", "--stack", "nope", "-b", buildpackDir("hello"), hello}, exitStack, []string{`stack "nope" is not in the store`, "paas stack create nope"}},
		{"bad flag value", nil, []string{"build", "--network", "bridge", hello}, exitUsage, []string{"--network"}},
		{"unknown flag", nil, []string{"build", "--frobnicate", hello}, exitUsage, []string{"frobnicate"}},
		{"bad output", nil, []string{"build", "-o", "tar:/x", hello}, exitUsage, []string{"tar:/x"}},
		{"bad env", nil, []string{"build", "-e", "1X=y", hello}, exitUsage, []string{"1X=y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := h.paasEnv(t, tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code = %d, want %d\n%s", code, tc.code, out.stderr)
			}
			for _, w := range tc.want {
				contains(t, "stderr", out.stderr, w)
			}
		})
	}
	store, err := oci.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	_, e, err := store.Image(oci.KindImage, "victim:latest")
	if err != nil || e.Digest.String() != before.Digest {
		t.Errorf("after failed builds victim = %v (%v), want %s untouched", e.Digest, err, before.Digest)
	}
}

// An unreadable app directory is reported as such (only meaningful for a
// user whom permissions apply to).
func TestBuildUnreadableApp(t *testing.T) {
	u := unprivileged(t)
	h := sharedHome(t, u)
	parent := userTempDir(t, root)
	os.Chmod(parent, 0o755)
	app := filepath.Join(parent, "private")
	os.Mkdir(app, 0o700) // owned by root: paas-test cannot read it
	out, code := h.paas(t, "build", "-t", "unreadable", app)
	if code != exitApp {
		t.Fatalf("exit = %d, want %d\n%s", code, exitApp, out.stderr)
	}
	if !strings.Contains(out.stderr, "cannot read") && !strings.Contains(out.stderr, "permission denied") {
		t.Errorf("stderr = %s", out.stderr)
	}
}

// Where user namespaces cannot be created, the error says so and names
// --sandbox none; with it the build runs on the current root filesystem.
func TestBuildWithoutUserNamespaces(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	// Inside a user namespace whose limit of nested namespaces is 0, the
	// sandbox cannot be made: a locked-down CI container in miniature.
	script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"`
	cmd := h.command(nil)
	args := append([]string{"--user", "--map-root-user", "--", "sh", "-c", script, "sh", paasBin}, "build", "-t", "nouserns", "-b", buildpackDir("cache-env"), app)
	cmd.Path, cmd.Args = "/usr/bin/unshare", append([]string{"unshare"}, args...)
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if code != exitSandbox {
		t.Fatalf("exit = %d (%v), want %d\n%s", code, err, exitSandbox, out)
	}
	contains(t, "output", string(out), "--sandbox none")

	cmd = h.command(nil)
	args = append([]string{"--user", "--map-root-user", "--", "sh", "-c", script, "sh", paasBin}, "build", "--sandbox", "none", "-t", "nouserns", "-b", buildpackDir("cache-env"), app)
	cmd.Path, cmd.Args = "/usr/bin/unshare", append([]string{"unshare"}, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--sandbox none: %v\n%s", err, out)
	}
	env := parseLines(appFile(t, h, "nouserns:latest", "build-env.txt"))
	if env["BUILD_DIR"] == "/app" || env["BUILD_DIR"] == "" {
		t.Errorf("with --sandbox none BUILD_DIR = %q, want the host working copy", env["BUILD_DIR"])
	}
}

// The disk filling up during export fails the build with its own exit
// code and leaves the store and earlier tags as they were.
func TestBuildDiskFull(t *testing.T) {
	// Mounting a small tmpfs is the way to fill a disk on purpose.
	testenv.Require(t, testenv.Stack|testenv.Root)
	mnt := t.TempDir()
	// Room for the stack (70 MB blob + 178 MB unpacked) and a small app,
	// not for a layer of 128 MB of random data (the working copy is an
	// overlay of the source, which is elsewhere; the layer is written once,
	// and linked into the store).
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=340m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	h := newHome(t, root, mnt)
	before := h.mustBuild(t, "-t", "full", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	index, err := os.ReadFile(filepath.Join(h.dir, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}

	big := appCopy(t, root, "hello")
	f, err := os.Create(filepath.Join(big, "random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 128<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, code := h.paas(t, "build", "-t", "full", "-b", buildpackDir("hello"), big)
	if code != exitDiskFull {
		t.Fatalf("exit = %d, want %d\n%s", code, exitDiskFull, out.stderr)
	}
	contains(t, "stderr", out.stderr, "no space left on device")
	after, _ := os.ReadFile(filepath.Join(h.dir, "oci", "index.json"))
	if string(after) != string(index) {
		t.Errorf("index.json changed by a failed build")
	}
	store, _ := oci.Open(h.dir)
	img, e, err := store.Image(oci.KindImage, "full:latest")
	if err != nil || e.Digest.String() != before.Digest {
		t.Fatalf("full:latest = %v %v, want %s", e.Digest, err, before.Digest)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("earlier image no longer valid: %v", err)
	}
}
