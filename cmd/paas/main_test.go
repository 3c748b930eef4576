package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/oci"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
)

// The end-to-end tests run the real paas binary, built once per test run,
// against real stacks, as root and as an unprivileged user.

var paasBin string

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	code := func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "paas-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		_ = os.Chmod(dir, 0o755)
		paasBin = filepath.Join(dir, "paas")
		build := exec.Command("go", "build", "-o", paasBin, ".")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building paas:", err)
			return 1
		}
		code := m.Run()
		testenv.StopContainerd()
		testenv.StopBuildKit()
		for _, h := range homes {
			fsutil.RemoveAll(h.dir)
		}
		return code
	}()
	os.Exit(code)
}

// user says who runs paas: root (uid 0) or an unprivileged user.
type user struct {
	name     string
	uid, gid int
}

var root = user{name: "root"}

func unprivileged(t *testing.T) user {
	uid, gid := testenv.Unprivileged(t)
	return user{name: "rootless", uid: uid, gid: gid}
}

// home is a paas store for tests, with the test stack imported as "test".
type testHome struct {
	dir  string
	user user
}

var (
	homesMu sync.Mutex
	homes   = map[int]*testHome{}
)

// sharedHome returns a store owned by u with the test stack in it, made
// once per test run per user: importing and unpacking a stack takes seconds.
func sharedHome(t testing.TB, u user) *testHome {
	t.Helper()
	testenv.Require(t, testenv.Stack)
	homesMu.Lock()
	defer homesMu.Unlock()
	if h, ok := homes[u.uid]; ok {
		return h
	}
	h := newHome(t, u, os.TempDir())
	homes[u.uid] = h
	return h
}

func newHome(t testing.TB, u user, parent string) *testHome {
	t.Helper()
	dir, err := os.MkdirTemp(parent, "paas-home-")
	if err != nil {
		t.Fatal(err)
	}
	chown(t, dir, u)
	h := &testHome{dir: dir, user: u}
	stack := testenv.StackTar(t)
	if out, code := h.paas(t, "stack", "import", "test", stack); code != 0 {
		t.Fatalf("paas stack import: exit %d\n%s", code, out.stderr)
	}
	return h
}

func chown(t testing.TB, path string, u user) {
	t.Helper()
	if u.uid == 0 {
		return
	}
	// Only directories this test made may change owner: never a shared
	// one such as the temp directory itself.
	if clean := filepath.Clean(path); clean == os.TempDir() || clean == "/" || len(strings.Split(clean, "/")) < 3 {
		t.Fatalf("refusing to chown %s", path)
	}
	err := filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type output struct{ stdout, stderr string }

// paas runs the binary as the home's user with PAAS_HOME set.
func (h *testHome) paas(t testing.TB, args ...string) (output, int) {
	t.Helper()
	return h.paasEnv(t, nil, args...)
}

func (h *testHome) paasEnv(t testing.TB, env []string, args ...string) (output, int) {
	t.Helper()
	cmd := h.command(env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running paas %v: %v", args, err)
	}
	return output{stdout.String(), stderr.String()}, code
}

func (h *testHome) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(paasBin, args...)
	cmd.Env = append([]string{
		"PAAS_HOME=" + h.dir,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"NO_COLOR=1",
		"HOME=" + h.dir,
		"PAAS_STACK=test",
	}, env...)
	if h.user.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(h.user.uid), Gid: uint32(h.user.gid)}}
	}
	return cmd
}

// mustBuild builds and returns the --json report.
func (h *testHome) mustBuild(t testing.TB, args ...string) builder.Report {
	t.Helper()
	out, code := h.paas(t, append([]string{"build", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("paas build %v: exit %d\n%s", args, code, out.stderr)
	}
	var r builder.Report
	if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
		t.Fatalf("paas build --json printed %q: %v", out.stdout, err)
	}
	return r
}

// appCopy copies a fixture app into a fresh directory the user owns.
func appCopy(t testing.TB, u user, name string) string {
	t.Helper()
	dst := filepath.Join(userTempDir(t, u), name)
	copyDir(t, testenv.Fixture("apps", name), dst)
	chown(t, dst, u)
	return dst
}

// userTempDir returns a new directory owned by u, removed after the test.
// (t.TempDir's parent is private to root.)
func userTempDir(t testing.TB, u user) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "paas-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chown(t, dir, u)
	return dir
}

func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func buildpackDir(name string) string { return testenv.Fixture("buildpacks", name) }

func contains(t *testing.T, what, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Errorf("%s does not contain %q:\n%s", what, want, s)
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func forEachUser(t *testing.T, test func(t *testing.T, h *testHome)) {
	for _, u := range []func(*testing.T) user{func(*testing.T) user { return root }, unprivileged} {
		usr := u(t)
		t.Run(usr.name, func(t *testing.T) { test(t, sharedHome(t, usr)) })
	}
}

// storedImage reads a built image back from a store.
func storedImage(t *testing.T, h *testHome, name string) v1.Image {
	t.Helper()
	store, err := oci.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := store.Image(oci.KindImage, name)
	if err != nil {
		t.Fatalf("store.Image(%s): %v", name, err)
	}
	return img
}

func layerEntries(t *testing.T, l v1.Layer) map[string]entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		if hdr.Typeflag == tar.TypeReg && hdr.Size < 1<<16 {
			body, _ = io.ReadAll(tr)
		}
		out[strings.TrimSuffix(hdr.Name, "/")] = entry{hdr, string(body)}
	}
}

func lastLayers(t *testing.T, img v1.Image, n int) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls[len(ls)-n:]
}

// appFile returns the body of a file of the built app layer.
func appFile(t *testing.T, h *testHome, image, name string) string {
	t.Helper()
	img := storedImage(t, h, image)
	e, ok := layerEntries(t, lastLayers(t, img, 1)[0])["app/"+name]
	if !ok {
		t.Fatalf("app layer of %s lacks %s", image, name)
	}
	return e.body
}
