package lifecycle

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/internal/testenv"
)

// exclusionApp is an app with everything the working copy leaves out.
func exclusionApp(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "app")
	testenv.WriteFiles(t, src, map[string]string{
		"Procfile": "web: serve\n", "ro/file": "x", "sub/main.go": "package main\n",
		".git/HEAD": "ref\n", "sub/.git/config": "[core]\n", ".env": "A=1\n", "config/vars.env": "B=2\n",
		".slugignore": "*.log\nprivate/\n", "debug.log": "log\n", "sub/deep/trace.log": "log\n", "private/key": "k\n",
	})
	if err := syscall.Mkfifo(filepath.Join(src, "sub", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	for dir, mode := range map[string]os.FileMode{"ro": 0o555, "sub": 0o755 | os.ModeSetgid} {
		if err := os.Chmod(filepath.Join(src, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(src, "ro"), 0o755) })
	old := time.Unix(1e9, 0)
	if err := os.Chtimes(filepath.Join(src, "sub"), old, old); err != nil {
		t.Fatal(err)
	}
	return src
}

func appSkipFor(t *testing.T, src string, exclude ...string) func(string, bool) bool {
	t.Helper()
	filter, err := readAppFilter(src)
	if err != nil {
		t.Fatal(err)
	}
	return appSkip(filter, exclude)
}

// upperEntries lists the upper layer: whiteouts as "name (whiteout)",
// directories as "name/ MODE".
func upperEntries(t *testing.T, upper string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch {
		case isWhiteout(&st):
			out = append(out, rel+" (whiteout)")
		case d.IsDir():
			info, _ := d.Info()
			out = append(out, rel+"/ "+info.Mode().String())
		default:
			out = append(out, rel+" (unexpected)")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// The upper layer hides exactly what copyTree would leave out, with
// whiteouts, and carries the directory modes the copy would have.
func TestOverlayUpperLayer(t *testing.T) {
	src := exclusionApp(t)
	upper := filepath.Join(t.TempDir(), "app")
	var warnings []string
	w, reason, err := overlayWorkCopy(src, upper, appSkipFor(t, src, "config/vars.env"), func(s string) { warnings = append(warnings, s) })
	if err != nil || reason != "" {
		t.Fatalf("overlayWorkCopy() = %q, %v; want an overlay", reason, err)
	}
	if !w.overlay || w.mount().Upper != upper || w.mount().Source != src {
		t.Errorf("mount = %+v, want the overlay of %s with upper %s", w.mount(), src, upper)
	}
	want := []string{
		"./ drwxr-xr-x", ".env (whiteout)", ".git (whiteout)", "config/ drwxr-xr-x", "config/vars.env (whiteout)",
		"debug.log (whiteout)", "private (whiteout)", "ro/ drwxr-xr-x", "sub/ drwxr-xr-x", "sub/.git (whiteout)",
		"sub/deep/ drwxr-xr-x", "sub/deep/trace.log (whiteout)", "sub/pipe (whiteout)",
	}
	if got := upperEntries(t, upper); !slices.Equal(got, want) {
		t.Errorf("upper layer:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "skipping fifo sub/pipe") {
		t.Errorf("warnings = %q, want one about sub/pipe", warnings)
	}
	if fi, err := os.Stat(filepath.Join(upper, "sub")); err != nil || fi.ModTime().Unix() != 1e9 {
		t.Errorf("upper sub: %v, %v; want the source's mtime", fi, err)
	}
	// The copy makes the same choices.
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyTree(src, dst, appSkipFor(t, src, "config/vars.env"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".", "ro", "sub", "config", "sub/deep"} {
		c, _ := os.Stat(filepath.Join(dst, d))
		u, _ := os.Stat(filepath.Join(upper, d))
		if c.Mode() != u.Mode() {
			t.Errorf("%s: copy mode %v, upper mode %v", d, c.Mode(), u.Mode())
		}
	}
}

// Where an overlay cannot show what a copy would, the working copy is a
// copy, and says why.
func TestOverlayFallsBackToCopy(t *testing.T) {
	type setup func(t *testing.T, src string) (work string)
	tests := []struct {
		name   string
		root   bool
		setup  setup
		reason string
	}{
		{"work dir inside the app", false, func(t *testing.T, src string) string { return filepath.Join(src, "tmp", "app") },
			"the work directory is inside the app"},
		{"unmapped owner", true, func(t *testing.T, src string) string {
			if err := os.Lchown(filepath.Join(src, "Procfile"), 1<<30, 1<<30); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "Procfile belongs to 1073741824:1073741824, ids the sandbox does not map"},
		{"mount point", true, func(t *testing.T, src string) string {
			mnt := filepath.Join(src, "mnt")
			if err := os.Mkdir(mnt, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
			return ""
		}, "mnt is on another filesystem (a mount point)"},
		{"unreadable file", false, func(t *testing.T, src string) string {
			if os.Geteuid() == 0 {
				t.Skip("root reads every file")
			}
			if err := os.Chmod(filepath.Join(src, "Procfile"), 0); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "cannot read Procfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			src := filepath.Join(t.TempDir(), "app")
			testenv.WriteFiles(t, src, map[string]string{"Procfile": "web: serve\n", ".env": "A=1\n"})
			work := tt.setup(t, src)
			if work == "" {
				work = filepath.Join(t.TempDir(), "app")
			}
			w, reason, err := overlayWorkCopy(src, work, appSkipFor(t, src), nil)
			if err != nil || w != nil || !strings.Contains(reason, tt.reason) {
				t.Errorf("overlayWorkCopy() = %v, %q, %v; want no overlay because %q", w, reason, err, tt.reason)
			}
			if tt.name == "work dir inside the app" {
				return
			}
			w, err = makeWorkCopy(src, work, appSkipFor(t, src), true, "unused", nil)
			if tt.name == "unreadable file" {
				if err == nil || !errors.Is(err, fs.ErrPermission) {
					t.Errorf("makeWorkCopy() = %v, want the copy's permission error", err)
				}
				return
			}
			if err != nil || w.overlay || !strings.Contains(w.how, "copied") || !strings.Contains(w.how, tt.reason) {
				t.Fatalf("makeWorkCopy() = %+v, %v; want a copy saying %q", w, err, tt.reason)
			}
			if _, err := os.Stat(filepath.Join(work, ".env")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the copy holds .env: %v", err)
			}
		})
	}
}

// Before the buildpacks are done the Procfile is read from the upper layer
// where it is there, else from the source, and a whiteout hides it.
func TestOverlayProcfileBeforeCompile(t *testing.T) {
	src, upper := t.TempDir(), t.TempDir()
	w := &workCopy{source: src, dir: upper, overlay: true}
	if _, err := w.readProcfile(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no Procfile: %v, want not exist", err)
	}
	testenv.WriteFiles(t, src, map[string]string{"Procfile": "web: source\n"})
	if p, err := w.readProcfile(); err != nil || p["web"] != "source" {
		t.Errorf("source Procfile: %v, %v", p, err)
	}
	testenv.WriteFiles(t, upper, map[string]string{"Procfile": "web: upper\n"})
	if p, err := w.readProcfile(); err != nil || p["web"] != "upper" {
		t.Errorf("upper Procfile: %v, %v", p, err)
	}
	if err := os.Remove(filepath.Join(upper, "Procfile")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(upper, "Procfile"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.readProcfile(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hidden Procfile: %v, want not exist", err)
	}
}

// On a filesystem with reflinks the copy fallback clones every file
// instead of copying its bytes, and says so; the clones are copies all the
// same: writing one leaves the source as it was. XFS makes reflinks by
// default; the test mounts one from a file.
func TestCopyReflinks(t *testing.T) {
	testenv.Require(t, testenv.Root)
	mkfs, err := exec.LookPath("mkfs.xfs")
	if err != nil {
		t.Skip("mkfs.xfs (Debian's xfsprogs) is not installed")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "xfs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 320<<20); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{mkfs, "-q", img}, {"mount", "-o", "loop", img, mnt}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%v: %v\n%s", cmd, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	src := filepath.Join(mnt, "src")
	testenv.WriteFiles(t, src, map[string]string{"a": strings.Repeat("a", 1<<16), "sub/b": "b\n", ".env": "A=1\n"})
	dst := filepath.Join(mnt, "app")
	w, err := makeWorkCopy(src, dst, appSkipFor(t, src), false, "--sandbox none", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.how, "reflinked 2 files") || !strings.HasSuffix(w.how, "(no overlay: --sandbox none)") {
		t.Errorf("how = %q, want 2 files reflinked", w.how)
	}
	if err := os.WriteFile(filepath.Join(dst, "sub", "b"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "sub", "b")); err != nil || string(b) != "b\n" {
		t.Errorf("source sub/b = %q, %v after writing its clone", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "a")); err != nil || len(b) != 1<<16 {
		t.Errorf("clone of a: %d bytes, %v", len(b), err)
	}
}

// project.toml's exclude leaves files out of the working copy like
// .slugignore; its include keeps only the files it names or that are in
// directories it names.
func TestProjectFilter(t *testing.T) {
	for _, tc := range []struct {
		project string
		kept    []string
	}{
		{"[build]\nexclude = [\"*.log\", \"docs/\"]\n", []string{"Procfile", "README.md", "src/a.go", "src/deep/b.go"}},
		{"[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = [\"src/\", \"Procfile\"]\n", []string{"Procfile", "src/a.go", "src/deep/b.go"}},
	} {
		src := t.TempDir()
		for _, f := range []string{"Procfile", "README.md", "src/a.go", "src/deep/b.go", "logs/x.log", "docs/guide.md"} {
			if err := os.MkdirAll(filepath.Join(src, filepath.Dir(f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(src, "project.toml"), []byte(tc.project), 0o644); err != nil {
			t.Fatal(err)
		}
		skip := appSkipFor(t, src)
		var kept []string
		for _, f := range []string{"Procfile", "README.md", "src/a.go", "src/deep/b.go", "logs/x.log", "docs/guide.md"} {
			skipped := false
			for p := f; p != "."; p = filepath.Dir(p) {
				if skip(p, p != f) {
					skipped = true
				}
			}
			if !skipped {
				kept = append(kept, f)
			}
		}
		if strings.Join(kept, " ") != strings.Join(tc.kept, " ") {
			t.Errorf("project.toml %q keeps %q, want %q", tc.project, kept, tc.kept)
		}
	}
}
