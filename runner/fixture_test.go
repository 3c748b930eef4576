package runner

import (
	"bytes"
	"crypto/rand"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/layers"
)

// stackLayerEnv passes the compressed test stack layer to helper copies of
// the test binary, so that they need not compress it again.
const stackLayerEnv = "PAAS_RUNNER_TEST_STACK_LAYER"

// webCommand is the fixture app's web process: a tiny HTTP server on $PORT
// that says which process type answers, and exits 0 on SIGTERM.
const webCommand = `exec perl -MIO::Socket::INET -e '` +
	`$SIG{TERM} = sub { print "web got TERM\n"; exit 0 }; $| = 1; ` +
	`$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 5, ReuseAddr => 1) or die "listen: $!\n"; ` +
	`print "listening on $ENV{PORT}\n"; ` +
	`while (1) { $c = $s->accept or next; while (defined($l = <$c>) && $l =~ /\S/) {} ` +
	`print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from $ENV{PAAS_PROCESS_TYPE}\n"; close $c }'`

// fixtures are built once per test binary: compressing the stack takes
// seconds.
var fixtures struct {
	once  sync.Once
	dir   string
	image v1.Image // a paas-like app image: launcher entrypoint, user 1000
	plain v1.Image // the same layers with no entrypoint, running as root
	err   error
}

func removeFixtures() {
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
}

// appImage returns the fixture app image: the test stack, the paas
// launcher with "web" and "worker" process types and an /app owned by
// 1000:1000, with the config paas gives its images. plainImage has the
// same layers and no entrypoint.
func appImage(t *testing.T) v1.Image {
	t.Helper()
	buildFixtures(t)
	return fixtures.image
}

func plainImage(t *testing.T) v1.Image {
	t.Helper()
	buildFixtures(t)
	return fixtures.plain
}

// uniqueImage returns the app image with one more layer, holding a file
// of random content, that no other image has.
func uniqueImage(t *testing.T) v1.Image {
	t.Helper()
	l, err := layers.FromFiles([]layers.File{{Path: "nonce", Mode: 0o644, Body: []byte(rand.Text())}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(appImage(t), l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func buildFixtures(t *testing.T) {
	t.Helper()
	path := os.Getenv(stackLayerEnv)
	if path == "" {
		path = testenv.StackTar(t)
	}
	fixtures.once.Do(func() {
		fixtures.image, fixtures.plain, fixtures.err = makeImages(path)
	})
	if fixtures.err != nil {
		t.Fatalf("building the fixture image: %v", fixtures.err)
	}
}

func makeImages(stack string) (v1.Image, v1.Image, error) {
	ls, err := fixtureLayers(stack)
	if err != nil {
		return nil, nil, err
	}
	base, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		return nil, nil, err
	}
	base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=from-image"}
	img, err := withConfig(base, v1.Config{
		Entrypoint: []string{launch.Launcher}, Cmd: []string{"web"},
		User: "1000:1000", WorkingDir: launch.AppDir, Env: env,
	})
	if err != nil {
		return nil, nil, err
	}
	plain, err := withConfig(base, v1.Config{Cmd: []string{"sh", "-c", "echo plain"}, Env: env})
	return img, plain, err
}

func withConfig(base v1.Image, cfg v1.Config) (v1.Image, error) {
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", runtime.GOARCH, cfg
	return mutate.ConfigFile(base, cf)
}

// fixtureLayers returns the stack layer (compressed once into the
// fixtures directory unless a helper was given it) and the app's layers.
func fixtureLayers(stack string) ([]v1.Layer, error) {
	gz := stack
	if !strings.HasSuffix(stack, ".gz") {
		var err error
		if gz, err = compressStack(stack); err != nil {
			return nil, err
		}
	}
	stackLayer, err := tarball.LayerFromFile(gz, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	launcher, err := launch.Layer()
	if err != nil {
		return nil, err
	}
	procs, err := launch.ProcessLayer(map[string]string{"web": webCommand, "worker": `echo "worker $PAAS_PROCESS_TYPE"`})
	if err != nil {
		return nil, err
	}
	app, err := layers.FromFiles([]layers.File{{Path: "app", Mode: fs.ModeDir | 0o755}}, layers.WithOwner(1000, 1000))
	if err != nil {
		return nil, err
	}
	return []v1.Layer{stackLayer, launcher, procs, app}, nil
}

// compressStack gzips the stack tarball into a directory that the
// unprivileged helpers can read too.
func compressStack(stack string) (string, error) {
	dir, err := os.MkdirTemp("", "paas-runner-fixtures-")
	if err != nil {
		return "", err
	}
	fixtures.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	in, err := os.Open(stack)
	if err != nil {
		return "", err
	}
	defer in.Close()
	path := filepath.Join(dir, "stack.tar.gz")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer out.Close()
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(zw, in); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return path, out.Close()
}

// countingImage counts how often its layers' blobs are opened.
type countingImage struct {
	v1.Image
	opened *atomic.Int64
}

func (c countingImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDigest(h)
	return countingLayer{l, c.opened}, err
}

func (c countingImage) Layers() ([]v1.Layer, error) {
	ls, err := c.Image.Layers()
	for i, l := range ls {
		ls[i] = countingLayer{l, c.opened}
	}
	return ls, err
}

type countingLayer struct {
	v1.Layer
	opened *atomic.Int64
}

func (l countingLayer) Compressed() (io.ReadCloser, error) {
	l.opened.Add(1)
	return l.Layer.Compressed()
}

func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.opened.Add(1)
	return l.Layer.Uncompressed()
}

// output collects a process's stream and lets a test wait for a line.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced at every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor returns once the output contains s, and fails the test if the
// process exits without writing it.
func (o *output) waitFor(t *testing.T, p Process, s string) {
	t.Helper()
	for {
		o.mu.Lock()
		found, changed := strings.Contains(o.buf.String(), s), o.changed
		o.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-p.Done():
			if !strings.Contains(o.String(), s) {
				t.Fatalf("process %s exited (%+v) without printing %q; output:\n%s", p.ID(), p.Exit(), s, o)
			}
			return
		}
	}
}

// freePort returns a TCP port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runAs runs a copy of the test binary as uid:gid with args and env, in a
// directory that user owns, and returns its combined output.
func runAs(t *testing.T, uid, gid int, env []string, args ...string) (string, error) {
	t.Helper()
	bin, tmp := testenv.TestBinaryAs(t, uid, gid)
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append([]string{"TMPDIR=" + tmp, "HOME=" + tmp}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
