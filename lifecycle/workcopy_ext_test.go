package lifecycle_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	code := m.Run()
	testenv.RemoveStackDir(sandbox.RemoveAll)
	os.Exit(code)
}

// stackRoot returns the test stack, unpacked once and given to root
// inside the sandbox.
func stackRoot(t testing.TB) string {
	t.Helper()
	return testenv.StackDir(t, sandbox.Own)
}

// sandboxBuild builds app with the buildpack bp in the sandbox on rootfs,
// returning the console output as well.
func sandboxBuild(t *testing.T, app, rootfs, bp string) (*lifecycle.Result, string) {
	t.Helper()
	res, log, err := build(t, app, func(o *lifecycle.Options) {
		o.NoSandbox = false
		o.Stack.Rootfs = rootfs
		o.Buildpacks = []string{bp}
	})
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	return res, log
}

// appDigest is the digest of the app layer Export would make of dir.
func appDigest(t *testing.T, dir string) string {
	t.Helper()
	l, err := layers.FromDir(dir, layers.WithPrefix("app"), layers.WithOwner(lifecycle.RunUID, lifecycle.RunGID),
		layers.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// A build whose working copy is an overlay of the source gives the app the
// image a copy gives, leaves the source as it was, and says which it used.
func TestOverlayBuildMatchesCopy(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root)
	rootfs := stackRoot(t)
	app := t.TempDir()
	testenv.WriteFiles(t, app, map[string]string{
		"README": "readme\n", "gone": "x\n", "data": "data\n", "lib/a.txt": "a\n", "lib/b.txt": "b\n",
		".git/HEAD": "ref\n", ".env": "A=1\n", ".slugignore": "*.log\n", "debug.log": "log\n",
	})
	bp := buildpack{
		detect:  "echo Edit",
		compile: `cd "$1" && echo more >> README && rm gone && rm -r lib && mkdir lib && echo new > lib/c.txt && chmod 600 data && mkdir -p out && echo built > out/x && ls -A > seen`,
		release: "echo '---'",
	}.write(t, "edit")
	before := testenv.TreeState(t, app)
	run := func(want string) string {
		t.Helper()
		res, log := sandboxBuild(t, app, rootfs, bp)
		defer res.Close()
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
		seen := strings.Fields(readFile(t, filepath.Join(res.AppDir, "seen")))
		sort.Strings(seen)
		if got, want := strings.Join(seen, " "), ".slugignore README data lib out seen"; got != want {
			t.Errorf("the buildpack saw %q, want %q", got, want)
		}
		return appDigest(t, res.AppDir)
	}
	overlay := run("Working copy: an overlay of the source directory: nothing copied")
	if after := testenv.TreeState(t, app); after != before {
		t.Errorf("the source changed:\n%s\nwant\n%s", after, before)
	}
	// An owner the sandbox does not map rules the overlay out; the image
	// takes no owners from the app.
	if err := os.Lchown(filepath.Join(app, "README"), 1<<30, 1<<30); err != nil {
		t.Fatal(err)
	}
	copied := run("(no overlay: README belongs to 1073741824:1073741824, ids the sandbox does not map)")
	if overlay != copied {
		t.Errorf("app layer from the overlay %s, from a copy %s; want them equal", overlay, copied)
	}
}

// Without a sandbox the working copy is a copy, and the output says so.
func TestWorkingCopyWithoutSandbox(t *testing.T) {
	app := app(t, "Procfile", "web: serve\n", ".env", "A=1\n")
	bp := buildpack{detect: "echo Plain", compile: "true", release: "echo '---'"}.write(t, "plain")
	res, log, err := build(t, app, func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	defer res.Close()
	if !strings.Contains(log, "Working copy: copied") || !strings.Contains(log, "(no overlay: --sandbox none)") {
		t.Errorf("output lacks the working copy line:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(res.AppDir, ".env")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copy holds .env: %v", err)
	}
}

// Where the sandbox refuses the overlay, the build copies the app instead
// and says why: a root caller's overlay needs an id-mapped mount of the
// source, which an overlayfs source cannot give.
func TestOverlayRefusedCopies(t *testing.T) {
	testenv.Require(t, testenv.Stack|testenv.Root)
	rootfs := stackRoot(t)
	dir := t.TempDir()
	lower, app := filepath.Join(dir, "lower"), filepath.Join(dir, "app")
	testenv.WriteFiles(t, lower, map[string]string{"README": "readme\n", ".env": "A=1\n"})
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{app, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Read-only: two lower layers, no upper one.
	opts := "lowerdir=" + lower + ":" + empty
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, app).CombinedOutput(); err != nil {
		t.Fatalf("mounting an overlay as the app: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", app).Run() })
	bp := buildpack{detect: "echo Edit", compile: `echo more >> "$1/README"`, release: "echo '---'"}.write(t, "edit")
	res, log := sandboxBuild(t, app, rootfs, bp)
	defer res.Close()
	if !strings.Contains(log, "Working copy: copied") || !strings.Contains(log, "(no overlay: overlay of a host directory refused") {
		t.Errorf("output lacks the copy and why:\n%s", log)
	}
	if got := readFile(t, filepath.Join(res.AppDir, "README")); got != "readme\nmore\n" {
		t.Errorf("README = %q", got)
	}
	if _, err := os.Stat(filepath.Join(res.AppDir, ".env")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copy holds .env: %v", err)
	}
}
