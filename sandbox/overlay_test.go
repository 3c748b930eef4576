package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/internal/testenv"
)

// overlaySource writes a source tree for an overlay Mount, and an upper
// directory that hides its file "hidden" with a whiteout.
func overlaySource(t *testing.T, m mode) (src, upper string) {
	t.Helper()
	src = scratchDir(t)
	testenv.WriteFiles(t, src, map[string]string{
		"keep": "keep\n", "trunc": "trunc\n", "mode": "mode\n", "gone": "gone\n",
		"hidden": "secret\n", "dir/sub/f": "f\n", "private": "private\n",
	})
	if err := os.Chmod(filepath.Join(src, "private"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	upper = filepath.Join(scratchDir(t), "app")
	if err := os.Mkdir(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(upper, "hidden"), unix.S_IFCHR, 0); err != nil {
		t.Fatalf("making a whiteout: %v", err)
	}
	if err := m.ids.own(upper); err != nil {
		t.Fatal(err)
	}
	return src, upper
}

// testOverlay runs commands that write, truncate, chmod and remove through
// an overlay Mount: the source stays exactly as it was, what the upper
// layer hides stays hidden, and the view shows the host what they left.
func testOverlay(t *testing.T, m mode) {
	src, upper := overlaySource(t, m)
	before := testenv.TreeState(t, src)
	cfg := Config{
		Root:   stackRoot(t),
		Upper:  filepath.Join(scratchDir(t), "upper"),
		Mounts: []Mount{{Source: src, Target: "/app", Upper: upper}},
	}
	sb, err := newWithIDs(cfg, m.ids)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	f := &fixture{sb: sb, cfg: cfg}
	got := f.mustSh(t, "cd /app && ls -A | tr '\\n' ' '; stat -c %u:%g keep; cat private")
	if want := "dir gone keep link mode private trunc 0:0\nprivate\n"; got != want {
		t.Errorf("the overlay inside = %q, want %q (no hidden file, the caller's files root's)", got, want)
	}
	f.mustSh(t, "cd /app && echo more >> keep && : > trunc && chmod 700 mode && rm gone && rm -r dir && mkdir dir && "+
		"echo new > new && chown 1:1 new 2>/dev/null; rm -f link && echo through > link && "+
		"test ! -e hidden && ! ls hidden 2>/dev/null && echo x > hidden")
	if after := testenv.TreeState(t, src); after != before {
		t.Errorf("the source changed:\n%s\nwant\n%s", after, before)
	}
	if got := f.mustSh(t, "cd /app && cat keep trunc link hidden; ls -A dir | wc -l; stat -c %a mode"); got != "keep\nmore\nthrough\nx\n0\n700\n" {
		t.Errorf("a second Run sees %q, want the first one's changes", got)
	}
	f.mustSh(t, "rm /app/hidden")
	view, err := openOverlayWithIDs(cfg.Mounts[0], m.ids)
	if err != nil {
		t.Fatalf("OpenOverlay() = %v", err)
	}
	defer view.Close()
	checkView(t, view.Dir())
	if after := testenv.TreeState(t, src); after != before {
		t.Errorf("the source changed:\n%s\nwant\n%s", after, before)
	}
}

// checkView checks the host's view of what testOverlay's commands left.
func checkView(t *testing.T, dir string) {
	t.Helper()
	for name, want := range map[string]string{"keep": "keep\nmore\n", "trunc": "", "link": "through\n", "new": "new\n", "private": "private\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("view %s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"gone", "hidden", "dir/sub"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("view %s: %v, want not exist", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "mode")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("view mode: %v, %v; want mode 0700", fi, err)
	}
}

// testOverlayRefused gives New an overlay the kernel refuses: New fails
// with ErrNoOverlay, which callers answer with a copy. A procfs directory
// is no layer: it cannot be id-mapped (root callers), and a user
// namespace may not clone its locked mount (ordinary users).
func testOverlayRefused(t *testing.T, m mode) {
	src, upper := "/proc/sys", filepath.Join(scratchDir(t), "upper")
	if err := os.Mkdir(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.ids.own(upper); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Root:   stackRoot(t),
		Upper:  filepath.Join(scratchDir(t), "upper"),
		Mounts: []Mount{{Source: src, Target: "/app", Upper: upper}},
	}
	_, err := newWithIDs(cfg, m.ids)
	if !errors.Is(err, ErrNoOverlay) {
		t.Errorf("New() with an overlay of %s = %v, want %v", src, err, ErrNoOverlay)
	}
	if _, err := openOverlayWithIDs(cfg.Mounts[0], m.ids); !errors.Is(err, ErrNoOverlay) {
		t.Errorf("OpenOverlay() of %s = %v, want %v", src, err, ErrNoOverlay)
	}
}

// Host would let commands write an overlay's Source: it refuses.
func TestHostRefusesOverlay(t *testing.T) {
	src, upper := t.TempDir(), t.TempDir()
	sb := Host([]Mount{{Source: src, Target: "/app", Upper: upper}})
	err := sb.Run(context.Background(), &Cmd{Args: []string{"/bin/sh", "-c", "touch " + src + "/x"}})
	if err == nil || !strings.Contains(err.Error(), "namespaced sandbox") {
		t.Errorf("Host Run with an overlay mount = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(src, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the command ran: %v", err)
	}
}

func TestMappedOwners(t *testing.T) {
	mapped := MappedOwners()
	if !mapped(os.Getuid(), os.Getgid()) {
		t.Errorf("MappedOwners()(%d, %d) = false, want the caller's own files mapped", os.Getuid(), os.Getgid())
	}
	if mapped(1<<30, 1<<30) {
		t.Errorf("MappedOwners()(1<<30, 1<<30) = true, want false")
	}
}
