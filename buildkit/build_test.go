package buildkit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/buildkit"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
)

func TestMain(m *testing.M) {
	if sandbox.Reexec() {
		return
	}
	code := m.Run()
	testenv.StopBuildKit()
	os.Exit(code)
}

// kitHome returns a home whose store holds the named test stacks.
func kitHome(t *testing.T, stackNames ...string) *home.Home {
	t.Helper()
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stackNames {
		if err := stacks.ImportInto(context.Background(), h, name, testenv.NamedStackTar(t, name), console.New(io.Discard, true)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// build builds app as tag, on kit when it is not nil, else in paas's own
// sandbox, and returns the report and the build's output.
func build(t *testing.T, h *home.Home, kit *testenv.BuildKitd, stack, tag, app string, env map[string]string) (*builder.Report, string) {
	t.Helper()
	o := builder.Options{AppDir: app, Tag: tag, Stack: stack, Env: env}
	if kit != nil {
		o.BuildKit.Address = kit.Address
	}
	return buildOpts(t, h, o)
}

// buildWith builds app as tag on the test stack on the daemon kit names.
func buildWith(t *testing.T, h *home.Home, kit buildkit.Options, tag, app string, env map[string]string) (*builder.Report, string) {
	t.Helper()
	return buildOpts(t, h, builder.Options{AppDir: app, Tag: tag, Stack: "test", Env: env, BuildKit: kit})
}

func buildOpts(t *testing.T, h *home.Home, o builder.Options) (*builder.Report, string) {
	t.Helper()
	var out bytes.Buffer
	o.Console = console.New(&out, false)
	r, err := builder.Build(context.Background(), h, o)
	if err != nil {
		t.Fatalf("building %s: %v\n%s", o.Tag, err, out.String())
	}
	t.Logf("%s: %s", o.Tag, r.Digest)
	return r, out.String()
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tokenBuildpack is written the way real buildpacks that need a credential
// are: it reads it from ENV_DIR, uses it (here, hashes it) and keeps
// something in CACHE_DIR across builds.
const tokenBuildpack = `#!/usr/bin/env bash
set -euo pipefail
BUILD_DIR=$1 CACHE_DIR=$2 ENV_DIR=$3
token=$(<"$ENV_DIR/API_TOKEN")
printf '%s' "$token" | sha256sum | cut -d' ' -f1 >"$BUILD_DIR/token.sha256"
printf '%s' "${no_proxy:-}" | sha256sum | cut -d' ' -f1 >"$BUILD_DIR/no_proxy.sha256"
builds=0
if [[ -f $CACHE_DIR/builds ]]; then
	builds=$(<"$CACHE_DIR/builds")
fi
echo "-----> The cache has seen $builds build(s)"
echo $((builds + 1)) >"$CACHE_DIR/builds"
`

// tokenBuildpackDir writes the token buildpack into a new directory.
func tokenBuildpackDir(t *testing.T) string {
	t.Helper()
	bp := filepath.Join(t.TempDir(), "token")
	for name, body := range map[string]string{
		"bin/detect":  "#!/bin/sh\necho Token\n",
		"bin/compile": tokenBuildpack,
		"bin/release": "#!/bin/sh\necho '--- {}'\n",
	} {
		writeFile(t, filepath.Join(bp, name), body, 0o755)
	}
	return bp
}

// classicApp returns an app whose .buildpacks runs buildpacks, by default
// two bash ones that hand variables on through an export file, then the
// token one.
func classicApp(t *testing.T, buildpacks ...string) string {
	t.Helper()
	if len(buildpacks) == 0 {
		buildpacks = []string{testenv.Fixture("buildpacks", "bash-exporter"), testenv.Fixture("buildpacks", "bash-consumer"), tokenBuildpackDir(t)}
	}
	app := t.TempDir()
	if err := os.Chmod(app, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(app, ".buildpacks"), strings.Join(buildpacks, "\n")+"\n", 0o644)
	writeFile(t, filepath.Join(app, "Procfile"), "web: greet\n", 0o644)
	return app
}

func writeFile(t *testing.T, path, body string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// A classic multi-buildpack app with an export file builds on BuildKit
// into the image a local build makes, digest for digest; live output is
// shown; CACHE_DIR is a cache mount the next build finds and --no-cache
// empties; and neither a config var the buildpack reads from ENV_DIR nor
// a proxy setting (which may hold credentials) is anywhere in BuildKit's
// state or in the image.
func TestClassicBuildOnBuildKit(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	app := classicApp(t)
	token := "tok-" + randomHex(t)
	env := map[string]string{"BASH_GREETING": "hello through ENV_DIR", "API_TOKEN": token}

	local, _ := build(t, h, nil, "test", "classic-local", app, env)
	remote, out := build(t, h, kit, "test", "classic-kit", app, env)
	if remote.Digest != local.Digest {
		t.Errorf("BuildKit built %s, the local build %s: want the same image", remote.Digest, local.Digest)
	}
	for _, want := range []string{
		"Building on BuildKit at " + kit.Address,
		"declare -x lines to the export file\n",
		"bash-consumer saw: hello through ENV_DIR\n",
		"-----> The cache has seen 0 build(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("BuildKit build output lacks %q:\n%s", want, out)
		}
	}
	sum := sha256.Sum256([]byte(token))
	img, _, err := h.Store().Image(oci.KindImage, "classic-kit")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := appimage.File(img, "token.sha256"); err != nil || strings.TrimSpace(string(got)) != hex.EncodeToString(sum[:]) {
		t.Errorf("token.sha256 = %q (%v): the buildpack did not read API_TOKEN from ENV_DIR", got, err)
	}

	_, out = build(t, h, kit, "test", "classic-kit", app, map[string]string{"BASH_GREETING": "again", "API_TOKEN": token})
	if !strings.Contains(out, "-----> The cache has seen 1 build(s)\n") {
		t.Errorf("the second build did not find the cache mount of the first:\n%s", out)
	}
	if _, out = buildNoCache(t, h, kit, app, env); !strings.Contains(out, "-----> The cache has seen 0 build(s)\n") {
		t.Errorf("--no-cache did not empty the cache mount:\n%s", out)
	}
	noSecret(t, kit.Root, token)
	noSecret(t, h.Store().Layout(), token)
	noSecretInImage(t, h, "classic-kit", token)
}

// The caller's proxy settings, which may hold credentials, reach every
// phase on BuildKit as secrets: a buildpack sees them, but neither
// BuildKit's state nor the image holds them, an export file's sourcing
// included.
func TestProxySettingsOnBuildKit(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	noProxy := "np-" + randomHex(t) + ".invalid"
	t.Setenv("no_proxy", noProxy)
	t.Setenv("NO_PROXY", "")
	app := classicApp(t, testenv.Fixture("buildpacks", "exporter"), tokenBuildpackDir(t))
	build(t, h, kit, "test", "proxy-kit", app, map[string]string{"API_TOKEN": "x"})

	img, _, err := h.Store().Image(oci.KindImage, "proxy-kit")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(noProxy))
	if got, err := appimage.File(img, "no_proxy.sha256"); err != nil || strings.TrimSpace(string(got)) != hex.EncodeToString(sum[:]) {
		t.Errorf("no_proxy.sha256 = %q (%v): the buildpack did not get no_proxy", got, err)
	}
	noSecret(t, kit.Root, noProxy)
	noSecretInImage(t, h, "proxy-kit", noProxy)
}

// buildNoCache builds app as classic-kit on kit with --no-cache.
func buildNoCache(t *testing.T, h *home.Home, kit *testenv.BuildKitd, app string, env map[string]string) (*builder.Report, string) {
	t.Helper()
	return buildOpts(t, h, builder.Options{AppDir: app, Tag: "classic-kit", Stack: "test", Env: env, NoCache: true,
		BuildKit: buildkit.Options{Address: kit.Address}})
}

// noSecret fails when any file under dir holds secret.
func noSecret(t *testing.T, dir, secret string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		n++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s holds the config var's value", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s holds no files: the search proves nothing", dir)
	}
}

// noSecretInImage fails when the image's config or a layer, uncompressed,
// holds secret.
func noSecretInImage(t *testing.T, h *home.Home, tag, secret string) {
	t.Helper()
	img, _, err := h.Store().Image(oci.KindImage, tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte(secret)) {
		t.Errorf("%s's config holds the config var's value", tag)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("layer %d of %s holds the config var's value", i, tag)
		}
	}
}

// The builtin Go buildpack builds an app with a real dependency from the
// Go module proxy on BuildKit, through the caller's CA trust (the proxy
// here inspects TLS), into the image a local build makes; the next build
// finds the modules in the cache mount and downloads nothing.
func TestGoBuildOnBuildKit(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon|testenv.Network)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "toolchains")
	app := t.TempDir()
	if err := os.Chmod(app, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(app, "go.mod"), "module github.com/acme/greeter\n\ngo 1.19\n\nrequire github.com/google/uuid v1.6.0\n", 0o644)
	for _, name := range []string{"go.sum", "main.go"} {
		data, err := os.ReadFile(testenv.Fixture("apps", "go-toolchain", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(app, name), string(data), 0o644)
	}

	remote, out := build(t, h, kit, "toolchains", "go-kit", app, nil)
	for _, want := range []string{"go: downloading github.com/google/uuid v1.6.0", "github.com/acme/greeter -> bin/greeter"} {
		if !strings.Contains(out, want) {
			t.Errorf("BuildKit build output lacks %q:\n%s", want, out)
		}
	}
	local, _ := build(t, h, nil, "toolchains", "go-local", app, nil)
	if remote.Digest != local.Digest {
		t.Errorf("BuildKit built %s, the local build %s: want the same image", remote.Digest, local.Digest)
	}

	// A config var the buildpack ignores makes it run again.
	_, out = build(t, h, kit, "toolchains", "go-kit", app, map[string]string{"REBUILD": "1"})
	if !strings.Contains(out, "-> bin/greeter") || strings.Contains(out, "go: downloading") {
		t.Errorf("the rebuild on BuildKit downloaded again, or built nothing:\n%s", out)
	}
}

// Addresses paas cannot use fail before anything is built, with the exit
// codes of bad usage and of a sandbox that cannot run.
func TestDialErrors(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want error
	}{
		{"buildkitd.sock", buildkit.ErrAddress},
		{"unix://", buildkit.ErrAddress},
		{"tcp://127.0.0.1", buildkit.ErrAddress},
		{"http://127.0.0.1:1234", buildkit.ErrAddress},
		{"foo://bar", buildkit.ErrAddress},
		{"tcp://127.0.0.1:1", buildkit.ErrUnreachable},
		{"unix://" + filepath.Join(t.TempDir(), "none.sock"), buildkit.ErrUnreachable},
	} {
		_, err := buildkit.Dial(context.Background(), buildkit.Options{Address: tc.addr})
		if !errors.Is(err, tc.want) {
			t.Errorf("Dial(%q) = %v, want %v", tc.addr, err, tc.want)
		}
	}
	tlsDir := t.TempDir()
	writeFile(t, filepath.Join(tlsDir, "cert.pem"), "not a certificate", 0o644)
	_, err := buildkit.Dial(context.Background(), buildkit.Options{Address: "tcp://127.0.0.1:1", TLSDir: tlsDir})
	if !errors.Is(err, buildkit.ErrAddress) || !strings.Contains(err.Error(), tlsDir) {
		t.Errorf("Dial with a bad client certificate = %v, want %v naming %s", err, buildkit.ErrAddress, tlsDir)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := buildkit.Dial(context.Background(), buildkit.Options{Address: "tcp://127.0.0.1:1", TLSDir: missing}); !errors.Is(err, buildkit.ErrAddress) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Dial with a missing TLS directory = %v, want %v naming it", err, buildkit.ErrAddress)
	}
	if fault.KindOf(buildkit.ErrUnreachable).ExitCode() != 5 || fault.KindOf(buildkit.ErrAddress).ExitCode() != 2 {
		t.Errorf("exit codes: unreachable %d, bad address %d; SPEC gives 5 and 2",
			fault.KindOf(buildkit.ErrUnreachable).ExitCode(), fault.KindOf(buildkit.ErrAddress).ExitCode())
	}
}

// A tree a buildpack leaves in odd shapes (the mount point's own mode, directories
// without owner bits, names an image layer takes as whiteouts) comes back
// from BuildKit as it was: the image equals a local build's.
func TestOddTreeOnBuildKit(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	app := classicApp(t, testenv.Fixture("buildpacks", "odd-tree"))
	local, _ := build(t, h, nil, "test", "odd-local", app, nil)
	remote, out := build(t, h, kit, "test", "odd-kit", app, nil)
	if remote.Digest != local.Digest {
		t.Errorf("BuildKit built %s, the local build %s: want the same image\n%s", remote.Digest, local.Digest, out)
	}
}
