package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// Nothing of the caller reaches a buildpack: not its environment (in the
// buildpack's or the sandbox init's), not a descriptor it inherited without
// close-on-exec, not its controlling terminal.
func TestBuildLeaksNothingOfTheCaller(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *home) {
		canary := userTempDir(t, h.user)
		if err := os.WriteFile(filepath.Join(canary, "canary.txt"), []byte("canary-file-7f3a"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir, err := os.Open(canary)
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		_, tty := openPty(t)
		cmd := h.command([]string{"PAAS_CANARY=canary-env-7f3a"}, "build", "-t", "snoop", "-b", buildpackDir("snoop"), userTempDir(t, h.user))
		// Above the descriptors paas hands its sandbox init (3 and 4), as
		// a careless CI runner would leave one.
		cmd.ExtraFiles = []*os.File{tty, tty, tty, dir}
		cmd.Stdin = tty
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("paas build: %v\n%s", err, out.String())
		}
		snoop := appFile(t, h, "snoop:latest", "snoop.txt")
		if strings.Contains(snoop, "canary") {
			t.Errorf("the buildpack found the caller's canaries:\n%s", snoop)
		}
		contains(t, "snoop.txt", snoop, "tty: refused")
		if strings.Contains(snoop, "fd ") {
			t.Errorf("the buildpack has descriptors beyond stdio:\n%s", snoop)
		}
	})
}

// Files paas reads from the app (Procfile, .env, .buildpacks, app.json,
// .slugignore) are never read through a link out of the app, whether the
// app came that way or a buildpack made it so; nothing of the link's
// target is shown.
func TestBuildAppFilesStayInTheApp(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *home) {
		canary := filepath.Join(userTempDir(t, h.user), "canary")
		if err := os.WriteFile(canary, []byte("web: echo CANARY-7f3a\nBUILDPACK_URL=CANARY-7f3a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			file string
			code int
		}{
			{"Procfile", exitProcfile},
			{".env", exitApp},
			{".buildpacks", exitDetect},
			{"app.json", exitDetect},
			{".slugignore", exitApp},
		} {
			t.Run(tt.file, func(t *testing.T) {
				app := appCopy(t, h.user, "hello")
				os.Remove(filepath.Join(app, tt.file))
				if err := os.Symlink(canary, filepath.Join(app, tt.file)); err != nil {
					t.Fatal(err)
				}
				args := []string{"build", "-t", "linked", app}
				if tt.file != ".buildpacks" && tt.file != "app.json" {
					args = append(args[:3], "-b", buildpackDir("hello"), app)
				}
				out, code := h.paas(t, args...)
				if code != tt.code || strings.Contains(out.stderr+out.stdout, "CANARY") {
					t.Errorf("exit %d, want %d, and no canary\n%s", code, tt.code, out.stderr)
				}
				contains(t, "stderr", out.stderr, "does not follow links out of the app")
			})
		}
		t.Run("made by a buildpack", func(t *testing.T) {
			out, code := h.paasEnv(t, []string{"PAAS_CANARY=CANARY-7f3a"}, "build", "-t", "linked", "-b", buildpackDir("procfile-link"), appCopy(t, h.user, "hello"))
			if code != exitProcfile || strings.Contains(out.stderr+out.stdout, "CANARY") {
				t.Errorf("exit %d, want %d, and no canary\n%s", code, exitProcfile, out.stderr)
			}
		})
	})
}

// A linked app directory is copied, not mounted: what a buildpack writes
// into /app never reaches the source. Config vars files never reach the
// image.
func TestBuildKeepsSourceAndConfigOut(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *home) {
		app := appCopy(t, h.user, "hello")
		for name, body := range map[string]string{".env": "FROM_DOTENV=1\n", "vars.env": "FROM_FILE=1\n"} {
			if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		chown(t, app, h.user)
		link := filepath.Join(userTempDir(t, h.user), "app-link")
		if err := os.Symlink(app, link); err != nil {
			t.Fatal(err)
		}
		chown(t, filepath.Dir(link), h.user)
		out, code := h.paas(t, "build", "-t", "linked-dir", "-b", buildpackDir("hello"), "-b", buildpackDir("procfile-link"),
			"--env-file", filepath.Join(app, "vars.env"), link)
		if code != exitProcfile {
			t.Fatalf("exit %d, want %d (the buildpack links the Procfile)\n%s", code, exitProcfile, out.stderr)
		}
		if _, err := os.Lstat(filepath.Join(app, "written-by-buildpack")); !os.IsNotExist(err) {
			t.Errorf("the buildpack wrote into the source directory: %v", err)
		}
		if fi, err := os.Lstat(filepath.Join(app, "Procfile")); err != nil || fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("the source Procfile changed: %v", err)
		}
		r := h.mustBuild(t, "-t", "no-config", "-b", buildpackDir("hello"), "--env-file", filepath.Join(app, "vars.env"), link)
		for name := range layerEntries(t, lastLayers(t, storedImage(t, h, r.Image), 1)[0]) {
			if name == "app/.env" || name == "app/vars.env" {
				t.Errorf("the image holds %s", name)
			}
		}
	})
}
