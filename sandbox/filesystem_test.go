package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testStackIsRoot(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	want, err := os.ReadFile(filepath.Join(f.cfg.Root, "etc/debian_version"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.mustSh(t, "cat /etc/debian_version"); got != string(want) {
		t.Errorf("cat /etc/debian_version = %q, want %q", got, want)
	}
}

func testWritesStayInUpper(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	etc := filepath.Join(f.cfg.Root, "etc")
	before := dirState(t, etc)
	f.mustSh(t, "touch /etc/x && echo changed >> /etc/debian_version")
	if after := dirState(t, etc); after != before {
		t.Errorf("Root/etc after Run = %s, want unchanged %s", after, before)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.Upper, "etc/x")); err != nil {
		t.Errorf("Upper/etc/x: %v, want the file written inside", err)
	}
}

// dirState summarizes a directory's entries, sizes and mtimes.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%d entries, mtime %v", len(entries), fi.ModTime().UnixNano())
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			s += fmt.Sprintf(";%s:%d", e.Name(), info.Size())
		}
	}
	return s
}

func testTmpIsPrivate(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	f.mustSh(t, "touch /tmp/scratch")
	if _, err := os.Stat(filepath.Join(f.cfg.Upper, "tmp/scratch")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Upper/tmp/scratch: %v, want not exist", err)
	}
	if got := f.mustSh(t, "stat -c %a /tmp; test -e /tmp/scratch && echo leaked || true"); got != "1777\n" {
		t.Errorf("second Run sees /tmp = %q, want %q", got, "1777\n")
	}
}

func testHostPathsHidden(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("test -e %s && echo visible || echo hidden; test -e %s && echo visible || echo hidden",
		secret, filepath.Join(f.cfg.Root, "etc/debian_version"))
	if got := f.mustSh(t, script); got != "hidden\nhidden\n" {
		t.Errorf("host paths inside = %q, want %q", got, "hidden\nhidden\n")
	}
}

func testMounts(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	if err := os.WriteFile(filepath.Join(f.config, "setting"), []byte("on"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustSh(t, "echo built > /app/out")
	if got, err := os.ReadFile(filepath.Join(f.app, "out")); err != nil || string(got) != "built\n" {
		t.Errorf("host /app/out = %q, %v; want %q", got, err, "built\n")
	}
	if got := f.mustSh(t, "cat /config/setting"); got != "on" {
		t.Errorf("cat /config/setting = %q, want %q", got, "on")
	}
	_, errOut, err := f.sh(t, "touch /config/new")
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(errOut, "Read-only file system") {
		t.Errorf("touch on read-only mount = %v (stderr %q), want an exit error for a read-only file system", err, errOut)
	}
}

func testUpperPersists(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	f.mustSh(t, "echo kept > /root/note")
	if got := f.mustSh(t, "cat /root/note"); got != "kept\n" {
		t.Errorf("second Run reads %q, want %q", got, "kept\n")
	}
	again, err := newWithIDs(f.cfg, m.ids)
	if err != nil {
		t.Fatalf("New() with the same Upper = %v", err)
	}
	f.sb = again
	if got := f.mustSh(t, "cat /root/note"); got != "kept\n" {
		t.Errorf("new sandbox on the same Upper reads %q, want %q", got, "kept\n")
	}
}

// testRemoveStackDir removes and recreates a directory of the stack, which
// needs an opaque directory in the upper layer.
func testRemoveStackDir(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "rm -r /usr/share/doc && mkdir /usr/share/doc && ls -A /usr/share/doc | wc -l")
	if strings.TrimSpace(got) != "0" {
		t.Errorf("entries in recreated /usr/share/doc = %q, want 0", got)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.Root, "usr/share/doc/dpkg")); err != nil {
		t.Errorf("Root/usr/share/doc/dpkg after rm inside: %v, want it kept", err)
	}
}

func testDevices(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	got := f.mustSh(t, "echo x > /dev/null; head -c 16 /dev/urandom | wc -c; head -c 3 /dev/zero | wc -c; echo y > /dev/shm/y; cat /dev/shm/y")
	if want := "16\n3\ny\n"; got != want {
		t.Errorf("device output = %q, want %q", got, want)
	}
}

// testRemoveAll removes what a command left that the caller cannot remove
// from outside when ids beyond its own are mapped: a directory without
// permissions, owned by uid 1000 inside.
func testRemoveAll(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	script := "mkdir -p /app/d/e && touch /app/d/e/f && chmod 0 /app/d/e /app/d"
	if m.ids.kind != mapSelf {
		script = "mkdir -p /app/d/e && touch /app/d/e/f && chown -R 1000:1000 /app/d && chmod 0 /app/d/e /app/d"
	}
	f.mustSh(t, script)
	if err := RemoveAll(filepath.Join(f.app, "d")); err != nil {
		t.Fatalf("RemoveAll() = %v, want nil", err)
	}
	if _, err := os.Lstat(filepath.Join(f.app, "d")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after RemoveAll() Lstat = %v, want not exist", err)
	}
}
