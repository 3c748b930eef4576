package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
)

// Exit codes by name, for the tests; fault owns the numbers.
var (
	exitUsage        = fault.Usage.ExitCode()
	exitApp          = fault.App.ExitCode()
	exitStack        = fault.Stack.ExitCode()
	exitSandbox      = fault.Sandbox.ExitCode()
	exitNotFound     = fault.NotFound.ExitCode()
	exitDetect       = fault.Detect.ExitCode()
	exitBuildpack    = fault.Buildpack.ExitCode()
	exitCompile      = fault.Compile.ExitCode()
	exitRelease      = fault.Release.ExitCode()
	exitProcfile     = fault.Procfile.ExitCode()
	exitTimeout      = fault.Timeout.ExitCode()
	exitDiskFull     = fault.DiskFull.ExitCode()
	exitNotReady     = fault.NotReady.ExitCode()
	exitReleasePhase = fault.ReleasePhase.ExitCode()
	exitRuntime      = fault.Runtime.ExitCode()
)

// Every code of SPEC.md's table is a class of fault, and every class has a
// code there.
func TestExitCodesMatchSpec(t *testing.T) {
	spec := specExitCodes(t)
	kinds := map[int]fault.Kind{}
	for _, k := range fault.Kinds() {
		kinds[k.ExitCode()] = k
	}
	for code, meaning := range spec {
		if _, ok := kinds[code]; !ok {
			t.Errorf("SPEC.md lists exit %d (%s), but no fault.Kind has it", code, meaning)
		}
	}
	for code, k := range kinds {
		if _, ok := spec[code]; !ok {
			t.Errorf("fault.Kind %q exits %d, which SPEC.md's table does not list", k, code)
		}
	}
}

// specExitCodes reads SPEC.md's exit code table: each code and its meaning,
// leaving out 0 (success) and N (a one-off command's own status), which are
// no failure class.
func specExitCodes(t *testing.T) map[int]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Exit codes\n")
	if !ok {
		t.Fatal(`SPEC.md has no "### Exit codes" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	row := regexp.MustCompile(`(?m)^\| *(\d+|N) *\| *(.*?) *\|$`)
	codes := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		code, err := strconv.Atoi(m[1])
		if err != nil || code == 0 {
			continue
		}
		codes[code] = m[2]
	}
	if len(codes) < 10 {
		t.Fatalf("read %d exit codes from SPEC.md, want its whole table: %v", len(codes), codes)
	}
	return codes
}

// Real failures of each path, run in this process as `paas` would run
// them, exit with their class's code. Builds use --sandbox none and a small
// stack in an OCI layout, so this needs no root, stack or network.
//
// Classes tested elsewhere through the binary: Sandbox
// (TestBuildWithoutUserNamespaces), NotReady (TestRunNeverReady), and
// DiskFull on every path (TestExitDiskFull).
func TestExitCodeOfFailures(t *testing.T) {
	t.Setenv("PAAS_HOME", t.TempDir())
	t.Setenv("PAAS_STACK", "")
	t.Setenv("PAAS_BUILDPACKS", "")
	stack := layoutStack(t, 4096)
	broken := layoutStack(t, 4096)
	removeLayerBlobs(t, broken)
	hello := appCopy(t, root, "hello")
	badProcfile := appCopy(t, root, "hello")
	writeFile(t, filepath.Join(badProcfile, "Procfile"), "web: perl server.pl\nworker perl worker.pl\n")
	hangs := t.TempDir()
	writeFile(t, filepath.Join(hangs, "misbehave"), "compile-hangs")
	notDir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notDir, "x")
	build := func(args ...string) []string {
		return append([]string{"build", "-q", "-t", "exitcode", "--sandbox", "none", "--stack", stack}, args...)
	}

	tests := []struct {
		name string
		env  []string
		args []string
		want fault.Kind
		says string
	}{
		{"unknown command", nil, []string{"frobnicate"}, fault.Usage, "unknown command"},
		{"bad flag value", nil, build("--network", "bridge", hello), fault.Usage, "--network"},
		{"app missing", nil, build("/nonexistent/app"), fault.App, "does not exist"},
		{"unknown stack", nil, []string{"build", "--stack", "nope", hello}, fault.Stack, "paas stack create nope"},
		{"stack source missing", nil, []string{"stack", "import", "s", "/nonexistent/rootfs.tar"}, fault.Stack, "/nonexistent/rootfs.tar"},
		{"image not in the store", nil, []string{"inspect", "nope"}, fault.NotFound, "paas images"},
		{"removing a missing image", nil, []string{"rm", "nope"}, fault.NotFound, "nope"},
		{"nothing detects", []string{"PAAS_BUILDPACKS=" + buildpackDir("never")}, build(t.TempDir()), fault.Detect, "no buildpack detected"},
		{"no bin/compile", nil, build("-b", buildpackDir("no-compile"), hello), fault.Buildpack, "bin/compile"},
		{"compile fails", nil, build("-b", buildpackDir("fail-compile"), hello), fault.Compile, "exited with status 3"},
		{"invalid release YAML", nil, build("-b", buildpackDir("bad-release"), hello), fault.Release, "invalid YAML"},
		{"malformed Procfile", nil, build("-b", buildpackDir("hello"), badProcfile), fault.Procfile, "line 2"},
		{"build too long", nil, build("--timeout", "1s", "-b", buildpackDir("hang"), hangs), fault.Timeout, "ran longer than 1s"},
		{"storing an image", nil, []string{"build", "-q", "--sandbox", "none", "--stack", broken, "-b", buildpackDir("hello"), hello}, fault.Export, "storing hello:latest"},
		{"storing a stack", nil, []string{"stack", "import", "s", broken}, fault.Export, "storing stack s"},
		{"output fails", nil, build("-b", buildpackDir("hello"), "-o", "oci:"+notDir+"/layout", hello), fault.Output, "writing oci:"},
		{"BuildKit unreachable", []string{"BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock"}, []string{"build", "-q", "--stack", stack, hello}, fault.Sandbox, "BuildKit daemon unreachable"},
		{"BuildKit address", nil, []string{"build", "--builder", "buildkitd:1234", hello}, fault.Usage, "unix://PATH"},
		{"BuildKit and --sandbox none", nil, build("--builder", "unix:///run/buildkit/buildkitd.sock", hello), fault.Usage, "--sandbox none"},
		{"BuildKit TLS without BuildKit", nil, []string{"build", "--builder-tls-dir", t.TempDir(), hello}, fault.Usage, "need a --builder"},
		{"BuildKit address without a port", nil, []string{"build", "--builder", "tcp://127.0.0.1", hello}, fault.Usage, "tcp://HOST:PORT"},
		{"BuildKit and limits", nil, []string{"build", "--builder", "unix:///run/buildkit/buildkitd.sock", "--memory", "1g", hello}, fault.Usage, "workers' limits"},
		{"no paas run to replace", nil, []string{"run", "nope", "--replace"}, fault.Runtime, "paas run nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := dispatch(context.Background(), &cliEnv{stdout: io.Discard, stderr: &stderr}, tc.args)
			if got := exitCode(err); got != tc.want.ExitCode() {
				t.Fatalf("paas %s: exit %d, want %d (%v): %v\n%s", strings.Join(tc.args, " "), got, tc.want.ExitCode(), tc.want, err, stderr.String())
			}
			contains(t, "error", err.Error(), tc.says)
		})
	}

	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if got, want := run(ctx, []string{"inspect", "nope"}), fault.Interrupted.ExitCode(); got != want {
			t.Errorf("paas inspect, interrupted: exit %d, want %d", got, want)
		}
	})
}

// A one-off command's status is paas's, unless paas was interrupted.
func TestExitCodeOfOneOff(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"command's status", deploy.ExitError{Code: 7}, 7},
		{"interrupted", fmt.Errorf("%w: %w", errInterrupted, deploy.ExitError{Code: 143}), fault.Interrupted.ExitCode()},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// A full disk exits 21 on every path that writes: importing a stack,
// storing it, creating one, storing a built image, writing an --output.
// Each runs the binary with the place it writes on a small tmpfs.
func TestExitDiskFull(t *testing.T) {
	testenv.Require(t, testenv.Root)
	stack := layoutStack(t, 32<<20)
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	writeRandomTar(t, rootfs, 32<<20)
	hello := appCopy(t, root, "hello")

	tests := []struct {
		name     string
		full     string // "home" or "output": which one is on the small tmpfs
		args     []string
		says     string
		needTool string
	}{
		{"importing a stack", "home", []string{"stack", "import", "s", rootfs}, "writing layer file", ""},
		{"storing a stack", "home", []string{"stack", "import", "s", stack}, "storing stack s", ""},
		{"creating a stack", "home", []string{"stack", "create", "s"}, "creating stack s", "mmdebstrap"},
		{"storing an image", "home", []string{"build", "--sandbox", "none", "--stack", stack, "-b", buildpackDir("hello"), hello}, "storing hello:latest", ""},
		{"writing an output", "output", []string{"build", "--sandbox", "none", "--stack", stack, "-b", buildpackDir("hello"), "-o", "oci:OUTPUT/layout", hello}, "writing oci:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needTool != "" {
				if _, err := exec.LookPath(tc.needTool); err != nil {
					t.Skipf("%s is not installed: %v", tc.needTool, err)
				}
			}
			small := smallTmpfs(t, "16m")
			h := &testHome{dir: filepath.Join(small, "home"), user: root}
			if tc.full == "output" {
				h.dir = userTempDir(t, root)
			}
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "OUTPUT", small)
			}
			out, code := h.paas(t, args...)
			if code != exitDiskFull {
				t.Fatalf("paas %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitDiskFull, out.stderr)
			}
			contains(t, "stderr", out.stderr, tc.says)
			contains(t, "stderr", out.stderr, "no space left on device")
		})
	}
}

// smallTmpfs mounts a tmpfs of size on a new directory: the way to fill a
// disk on purpose.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// layoutStack writes a one-layer image of random content (size bytes, which
// do not compress) to a new OCI layout and returns it as a --stack value.
func layoutStack(t *testing.T, size int64) string {
	t.Helper()
	img, err := random.Image(size, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := "oci:" + userTempDir(t, root)
	if err := oci.Write(context.Background(), img, ref, "stack:latest"); err != nil {
		t.Fatal(err)
	}
	return ref
}

// removeLayerBlobs leaves the layout at ref readable but without its
// layers, so that copying the image fails.
func removeLayerBlobs(t *testing.T, ref string) {
	t.Helper()
	img, err := oci.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(strings.TrimPrefix(ref, "oci:"), "blobs", d.Algorithm, d.Hex)); err != nil {
			t.Fatal(err)
		}
	}
}

// writeRandomTar writes a rootfs tarball holding one file of size random
// bytes.
func writeRandomTar(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "random.bin", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
