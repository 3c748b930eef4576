package stacks

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

func TestRootfsOfStack(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	img := testStackImage(t)
	home := t.TempDir()
	var opens atomic.Int32
	counted := countingImage{Image: img, opens: &opens}
	root, err := Rootfs(context.Background(), home, counted)
	if err != nil {
		t.Fatalf("Rootfs() error: %v", err)
	}
	if want := filepath.Join(home, "rootfs", treeName(t, img)); root != want {
		t.Errorf("Rootfs() = %v, want %v", root, want)
	}
	checkStackTree(t, root)

	again, err := Rootfs(context.Background(), home, counted)
	if err != nil || again != root {
		t.Errorf("Rootfs() again = %v, %v, want %v", again, err, root)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("Rootfs() twice opened layers %d times, want 1", n)
	}
	checkOnlyFinal(t, home, treeName(t, img))
}

// checkStackTree checks a few well-known parts of a Debian bookworm tree.
func checkStackTree(t *testing.T, root string) {
	t.Helper()
	version, err := os.ReadFile(filepath.Join(root, "etc/debian_version"))
	if err != nil || !strings.HasPrefix(string(version), "12") {
		t.Errorf("etc/debian_version = %q, %v, want 12.x", version, err)
	}
	links := []struct{ name, target string }{
		{"bin", "usr/bin"}, // merged /usr
		{"usr/bin/sh", "dash"},
	}
	for _, l := range links {
		if got, err := os.Readlink(filepath.Join(root, l.name)); err != nil || got != l.target {
			t.Errorf("Readlink(%s) = %q, %v, want %q", l.name, got, err, l.target)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "bin/sh"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		t.Errorf("Stat(bin/sh) = %v, %v, want an executable file", fi, err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/doc")); err != nil {
		t.Errorf("Stat(usr/share/doc) error: %v", err)
	}
}

// treeName is the name of img's tree under this process's id mapping.
func treeName(t *testing.T, img v1.Image) string {
	return rootfsName(digest(t, img).Hex, sandbox.IDMapping())
}

// checkOnlyFinal checks that home/rootfs holds the tree named hex and
// nothing but lock files besides.
func checkOnlyFinal(t *testing.T, home, hex string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(home, "rootfs"))
	for _, e := range entries {
		if e.Name() != hex && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("rootfs cache holds %s, want only %s and locks", e.Name(), hex)
		}
	}
}

func TestRootfsConcurrent(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	img := testStackImage(t)
	home := t.TempDir()
	var opens atomic.Int32
	counted := countingImage{Image: img, opens: &opens}
	const callers = 4
	dirs := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { dirs[i], errs[i] = Rootfs(context.Background(), home, counted) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("Rootfs() caller %d = %v, %v, want %v", i, dirs[i], errs[i], dirs[0])
		}
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("%d concurrent Rootfs() opened layers %d times, want 1", callers, n)
	}
	checkStackTree(t, dirs[0])
	checkOnlyFinal(t, home, treeName(t, img))
}

func TestRootfsFailureLeavesNothing(t *testing.T) {
	base := imageOf(t, layerOf(t, dir("etc", 0o555), file("etc/a", "a"), file("etc/b", "b")))
	tests := []struct {
		name string
		open func(v1.Layer) (io.ReadCloser, error)
		want error
	}{
		{
			name: "truncated stream",
			open: func(l v1.Layer) (io.ReadCloser, error) {
				rc, err := l.Uncompressed()
				return io.NopCloser(io.LimitReader(rc, 700)), err
			},
			want: io.ErrUnexpectedEOF,
		},
		{
			name: "content not matching diff id",
			open: func(l v1.Layer) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(string(tarBytes(t, file("etc/a", "evil"))))), nil
			},
			want: ErrDiffIDMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			img := brokenImage{Image: base, open: tt.open}
			_, err := Rootfs(context.Background(), home, img)
			if !errors.Is(err, tt.want) {
				t.Errorf("Rootfs() error = %v, want %v", err, tt.want)
			}
			entries, _ := os.ReadDir(filepath.Join(home, "rootfs"))
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".lock") {
					t.Errorf("failed Rootfs() left %s", e.Name())
				}
			}
		})
	}
}

func TestRootfsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := imageOf(t, layerOf(t, file("a", "a")))
	if _, err := Rootfs(ctx, t.TempDir(), img); !errors.Is(err, context.Canceled) {
		t.Errorf("Rootfs(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestRemoveRootfsReadOnlyTree(t *testing.T) {
	img := imageOf(t, layerOf(t,
		dir("ro", 0o555), dir("ro/deeper", 0o500), file("ro/deeper/f", "x"), dir("locked", 0o000), file("locked/g", "y")))
	home := tempHome(t)
	root, err := Rootfs(context.Background(), home, img)
	if err != nil {
		t.Fatalf("Rootfs() error: %v", err)
	}
	if err := RemoveRootfs(home, digest(t, img)); err != nil {
		t.Fatalf("RemoveRootfs() error: %v", err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after RemoveRootfs() = %v, want not exist", root, err)
	}
	if err := RemoveRootfs(home, digest(t, img)); err != nil {
		t.Errorf("RemoveRootfs() of a removed tree = %v, want nil", err)
	}
	if again, err := Rootfs(context.Background(), home, img); err != nil || again != root {
		t.Errorf("Rootfs() after RemoveRootfs() = %v, %v, want %v", again, err, root)
	}
}

// TestRootfsAfterKill kills a process in the middle of an unpack and checks
// that the next call neither sees a tree nor keeps the leftover.
func TestRootfsAfterKill(t *testing.T) {
	var entries []entry
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		entries = append(entries, dir(n, 0o555), file(n+"/file", strings.Repeat(n, 600)))
	}
	img := imageOf(t, layerOf(t, entries...))
	src := writeLayout(t, img)
	home := tempHome(t)

	cmd := helperCommand(t, "stall", home, src)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper: %v", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "stalled\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, want stalled", line)
	}
	left, _ := filepath.Glob(filepath.Join(home, "rootfs", ".unpack-*"))
	cmd.Process.Kill()
	cmd.Wait()
	if len(left) != 1 {
		t.Fatalf("half-unpacked trees = %v, want one", left)
	}
	final := filepath.Join(home, "rootfs", treeName(t, img))
	if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after kill = %v, want not exist", final, err)
	}

	root, err := Rootfs(context.Background(), home, img)
	if err != nil || root != final {
		t.Fatalf("Rootfs() after kill = %v, %v, want %v", root, err, final)
	}
	if b, err := os.ReadFile(filepath.Join(root, "f/file")); err != nil || len(b) != 600 {
		t.Errorf("ReadFile(f/file) = %d bytes, %v, want 600", len(b), err)
	}
	checkOnlyFinal(t, home, treeName(t, img))
}

// TestRootfsUnprivileged unpacks the test stack as an ordinary user, the way
// rootless builds do, then removes it as that user.
func TestRootfsUnprivileged(t *testing.T) {
	// Root runs the helpers as the unprivileged user.
	testenv.Require(t, testenv.Stack|testenv.Root)
	uid, gid := testenv.Unprivileged(t)
	// An OCI layout the user can read, so the helpers need not recompress
	// the stack.
	src := writeLayoutIn(t, sharedTempDir(t), testStackImage(t))
	home := sharedTempDir(t)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	run := func(mode string) string {
		cmd := helperCommand(t, mode, home, src)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(cmd.Env, "HOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper %s as uid %d: %v\n%s", mode, uid, err, stderrOf(err))
		}
		return strings.TrimSpace(string(out))
	}
	root := run("rootfs")
	checkStackTree(t, root)
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, "etc/debian_version"), &st); err != nil || int(st.Uid) != uid {
		t.Errorf("owner of etc/debian_version = %d, %v, want %d", st.Uid, err, uid)
	}
	if again := run("rootfs"); again != root {
		t.Errorf("Rootfs() again as uid %d = %v, want %v", uid, again, root)
	}
	run("remove")
	if _, err := os.Lstat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(%s) after RemoveRootfs() as uid %d = %v, want not exist", root, uid, err)
	}
}

// helperCommand runs the test binary as a helper (see runHelper). The binary
// is copied to a world-readable directory so other users can run it too.
func helperCommand(t *testing.T, mode, home, source string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(sharedDir, "stacks.test")
	helperBin.Do(func() { helperBinErr = copyFile(self, bin, 0o755) })
	if helperBinErr != nil {
		t.Fatalf("copying test binary: %v", helperBinErr)
	}
	cmd := exec.Command(bin, "-test.run=^$", home, source)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

var (
	helperBin    sync.Once
	helperBinErr error
)

// sharedTempDir is a temporary directory that other users can enter.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	if err := os.Chmod(sharedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(sharedDir, "home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsutil.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// writeLayout writes img to a new OCI layout and returns it as an oci:
// source.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	return writeLayoutIn(t, t.TempDir(), img)
}

// writeLayoutIn writes img to a new OCI layout in dir, readable by all
// users (ggcr writes layer blobs owner-only).
func writeLayoutIn(t *testing.T, dir string, img v1.Image) string {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout.Write() error: %v", err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatalf("AppendImage() error: %v", err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			err = os.Chmod(p, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatalf("making layout readable: %v", err)
	}
	return "oci:" + dir
}
