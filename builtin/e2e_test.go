package builtin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
)

// The end-to-end tests build the fixture apps with the real paas binary and
// the builtin buildpacks as the detection list (no buildpack named), on the
// toolchains stack, then serve each image with `paas run` and ask it for a
// page.

var (
	paasBin   string
	storeDir  string // PAAS_HOME, with the toolchains stack imported
	builtins  string // PAAS_BUILDPACKS: the extracted buildpacks
	setupOnce sync.Once
	setupErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "paas-builtin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := run(m, dir)
	if err := fsutil.RemoveAll(dir); err != nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func run(m *testing.M, dir string) int {
	if testing.Short() {
		return m.Run()
	}
	paasBin = filepath.Join(dir, "paas")
	build := exec.Command("go", "build", "-o", paasBin, "./cmd/paas")
	build.Dir = testenv.RepoRoot()
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building paas:", err)
		return 1
	}
	storeDir = filepath.Join(dir, "home")
	bps, err := Extract(filepath.Join(dir, "buildpacks"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dirs := make([]string, len(bps))
	for i, bp := range bps {
		dirs[i] = bp.Dir
	}
	builtins = strings.Join(dirs, ",")
	return m.Run()
}

// store imports the toolchains stack into PAAS_HOME (storeDir), once per run.
func store(t *testing.T) {
	t.Helper()
	testenv.Require(t, testenv.Stack)
	setupOnce.Do(func() {
		tar := testenv.NamedStackTar(t, "toolchains")
		_, out, code := paas(t, "stack", "import", "toolchains", tar)
		if code != 0 {
			setupErr = fmt.Errorf("paas stack import: exit %d\n%s", code, out)
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// paas runs the binary with the store and the builtin buildpacks as the
// detection list, returning its stdout, stderr and exit status.
func paas(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running paas %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(paasBin, args...)
	cmd.Env = []string{
		"PAAS_HOME=" + storeDir,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"NO_COLOR=1",
		"HOME=" + storeDir,
		"PAAS_BUILDPACKS=" + builtins,
	}
	return cmd
}

// report is the part of `paas inspect --json` the tests read.
type report struct {
	Name       string            `json:"name"`
	Processes  map[string]string `json:"processes"`
	Buildpacks []struct {
		Name     string `json:"name"`
		Source   string `json:"source"`
		Resolved string `json:"resolved"`
		Detected string `json:"detected"`
	} `json:"buildpacks"`
	Layers []layer `json:"layers"`
}

type layer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	By     string `json:"created_by"`
}

// build builds app (a directory) as tag on the toolchains stack with no
// buildpack named and returns the image's inspection and paas's output.
// It builds without --json, which would silence the buildpacks' output.
func build(t *testing.T, tag, app string, args ...string) (report, string) {
	t.Helper()
	store(t)
	_, out, code := paas(t, append([]string{"build", "--stack", "toolchains", "-t", tag}, append(args, app)...)...)
	if code != 0 {
		t.Fatalf("paas build %s: exit %d\n%s", app, code, out)
	}
	js, errOut, code := paas(t, "inspect", "--json", tag)
	if code != 0 {
		t.Fatalf("paas inspect %s: exit %d\n%s", tag, code, errOut)
	}
	var r report
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("paas inspect --json printed %q: %v", js, err)
	}
	var size int64
	for _, l := range r.Layers {
		size += l.Size
	}
	top := appLayer(t, r)
	t.Logf("%s: %d layers, %.1f MB compressed, of which the app layer %.2f MB", r.Name, len(r.Layers), float64(size)/1e6, float64(top.Size)/1e6)
	return r, out
}

// appLayer returns the layer holding /app: the last one.
func appLayer(t *testing.T, r report) layer {
	t.Helper()
	if len(r.Layers) == 0 {
		t.Fatalf("image %s has no layers", r.Name)
	}
	return r.Layers[len(r.Layers)-1]
}

// appFiles lists the entries of the layers holding /app: the dependency
// layers, then the app's own.
func appFiles(t *testing.T, r report) []string {
	t.Helper()
	var names []string
	for _, l := range r.Layers {
		if strings.HasPrefix(l.By, "paas build: dependencies (/app/") || l.By == "paas build: app (/app)" {
			names = append(names, layerFiles(t, l.Digest)...)
		}
	}
	return names
}

// layerFiles lists the entries of a layer blob in the store.
func layerFiles(t *testing.T, digest string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(storeDir, "oci", "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimPrefix(h.Name, "./"))
	}
}

// serve runs the image with `paas run` on the sandbox runtime and returns
// the body of GET / once it receives traffic; paas run is stopped with
// SIGINT after the test.
func serve(t *testing.T, image string) string {
	t.Helper()
	url, out := running(t, image)
	code, body := httpGet(t, url+"/")
	if code != 200 {
		t.Fatalf("GET / = %d %s\n%s", code, body, out.String())
	}
	return body
}

// running starts `paas run` of the image on the sandbox runtime, waits
// until it receives traffic and returns the proxy's URL and paas run's
// output; paas run is stopped with SIGINT when the test ends.
func running(t *testing.T, image string) (string, *syncBuffer) {
	t.Helper()
	port := freePort(t)
	out := &syncBuffer{}
	cmd := command("run", image, "--runtime", "sandbox", "--check", "/", "-p", port)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { stop(t, cmd, exited, out) })
	waitFor(t, out, exited, "receives traffic")
	return "http://127.0.0.1:" + port, out
}

// httpGet GETs url and returns the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func stop(t *testing.T, cmd *exec.Cmd, exited chan struct{}, out *syncBuffer) {
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Errorf("paas run did not stop on SIGINT:\n%s", out.String())
	}
}

func waitFor(t *testing.T, out *syncBuffer, exited chan struct{}, text string) {
	t.Helper()
	deadline := time.After(120 * time.Second)
	for !strings.Contains(out.String(), text) {
		select {
		case <-exited:
			t.Fatalf("paas run exited before %q:\n%s", text, out.String())
		case <-deadline:
			t.Fatalf("no %q within 2m:\n%s", text, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// syncBuffer collects a process's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countFiles counts the regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// detected says which buildpack built the image.
func detected(t *testing.T, r report, want string) {
	t.Helper()
	if len(r.Buildpacks) != 1 || r.Buildpacks[0].Detected != want {
		t.Errorf("buildpacks = %+v, want only one that detected %s", r.Buildpacks, want)
	}
}

// appWith copies the fixture app (none when fixture is "") into a temporary
// directory, writes files (name → content) over it and returns the copy:
// fixtures stay unchanged.
func appWith(t *testing.T, fixture string, files map[string]string) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	if fixture == "" {
		if err := os.Mkdir(app, 0o755); err != nil {
			t.Fatal(err)
		}
	} else if err := os.CopyFS(app, os.DirFS(testenv.Fixture("apps", fixture))); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

// cacheDir returns the build cache (CACHE_DIR) of the image repository
// repo: the store names it after repo plus a hash of 16 hex digits.
func cacheDir(t *testing.T, repo string) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(storeDir, "cache", repo+"-"+strings.Repeat("[0-9a-f]", 16)))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("build caches of %s: %v (%v), want one", repo, dirs, err)
	}
	return dirs[0]
}
