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
	forEachUser(t, func(t *testing.T, h *testHome) {
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
	forEachUser(t, func(t *testing.T, h *testHome) {
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
	forEachUser(t, func(t *testing.T, h *testHome) {
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

// A buildpack that tries to become root on the host gets nowhere, as root
// and as an ordinary user: every attempt of escape-root is refused, root
// inside is no host user with privileges (not host 0 for root callers), and
// the host's sysctls it aimed at are unchanged.
func TestBuildEscapeRootRefused(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		sysctls := []string{"/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname"}
		before := readFiles(t, sysctls)
		if out, code := h.paas(t, "build", "-t", "escape-root", "-b", buildpackDir("escape-root"), userTempDir(t, h.user)); code != 0 {
			t.Fatalf("paas build = %d\n%s", code, out)
		}
		report := appFile(t, h, "escape-root:latest", "escape-root.txt")
		if strings.Contains(report, "ESCAPED") {
			t.Errorf("an escape worked:\n%s", report)
		}
		for _, name := range []string{"core_pattern", "hostname_sysctl", "remount_sys", "remount_resolv_conf",
			"unshare_user", "mknod_null", "init_module", "write_resolv_conf", "write_sys", "read_kcore"} {
			contains(t, "escape-root.txt", report, name+": refused")
		}
		contains(t, "escape-root.txt", report, "uid=0(root)")
		contains(t, "escape-root.txt", report, "NoNewPrivs: 1")
		contains(t, "escape-root.txt", report, "Seccomp: 2")
		checkUIDMap(t, h, report)
		checkCacheOwner(t, h)
		if after := readFiles(t, sysctls); after != before {
			t.Errorf("host sysctls changed: %q, were %q", after, before)
		}
	})
}

// checkUIDMap checks that root inside is the caller, or for root callers
// an id of the unprivileged range, never host root.
func checkUIDMap(t *testing.T, h *testHome, report string) {
	t.Helper()
	_, line, _ := strings.Cut(report, "uid_map: ")
	fields := strings.Fields(line)
	if len(fields) < 3 || fields[0] != "0" {
		t.Fatalf("escape-root.txt uid_map = %q, want one starting with inside 0", line)
	}
	if h.user.uid == 0 && fields[1] == "0" {
		t.Errorf("as root, inside 0 is host %s, want an unprivileged id", fields[1])
	}
	if h.user.uid != 0 && fields[1] != fmt.Sprint(h.user.uid) {
		t.Errorf("as uid %d, inside 0 is host %s, want the caller", h.user.uid, fields[1])
	}
}

// checkCacheOwner checks the host owner of the file the buildpack wrote
// into CACHE_DIR: root inside's host id, the caller's only when rootless.
func checkCacheOwner(t *testing.T, h *testHome) {
	t.Helper()
	var found []string
	filepath.WalkDir(h.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "escape-root-owned" {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("CACHE_DIR files named escape-root-owned under %s = %v, want one", h.dir, found)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(found[0], &st); err != nil {
		t.Fatal(err)
	}
	if h.user.uid == 0 && st.Uid == 0 {
		t.Errorf("as root, %s is owned by host uid 0, want the unprivileged range", found[0])
	}
	if h.user.uid != 0 && int(st.Uid) != h.user.uid {
		t.Errorf("as uid %d, %s is owned by host uid %d, want the caller", h.user.uid, found[0], st.Uid)
	}
}

func readFiles(t *testing.T, paths []string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

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
