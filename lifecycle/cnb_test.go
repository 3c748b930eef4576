package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
)

// cnbBuild builds app with the named fixture buildpacks on the host,
// keeping CNB layers in layersDir.
func cnbBuild(t *testing.T, app, layersDir string, env map[string]string, bps ...string) (*lifecycle.Result, string, error) {
	t.Helper()
	return build(t, app, func(o *lifecycle.Options) {
		o.LayersDir = layersDir
		o.Env = env
		for _, bp := range bps {
			if !filepath.IsAbs(bp) && !strings.Contains(bp, ":") {
				bp = testenv.Fixture("buildpacks", bp)
			}
			o.Buildpacks = append(o.Buildpacks, bp)
		}
	})
}

// Two CNB buildpacks resolve their plans (the app's requirement reaches
// the runtime's bin/build), the runtime's build layers reach the app's
// build (bin on PATH, env/ and env.build/), launch layers and processes go
// to the result, build-only layers do not, and a cache layer comes back to
// the next build with its metadata.
func TestCNBBuild(t *testing.T) {
	app := app(t, "app.cnb", "2.1\n")
	layers := filepath.Join(t.TempDir(), "layers")
	res, log, err := cnbBuild(t, app, layers, map[string]string{"GREETING": "from the platform"}, "cnb-runtime", "cnb-app")
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	defer res.Close()
	for _, want := range []string{"Test Runtime 2.1", "Downloading runtime 2.1", "Compiling with hello-runtime 2.1 (--fast): version"} {
		if !strings.Contains(log, want) {
			t.Errorf("the build's output lacks %q:\n%s", want, log)
		}
	}
	var holds []string
	for _, l := range res.CNBLayers {
		holds = append(holds, l.Holds+" at "+l.Path)
	}
	want := []string{"paas.test/runtime layer runtime at /layers/paas.test_runtime/runtime", "paas.test/app layer compiled at /layers/paas.test_app/compiled"}
	if strings.Join(holds, "; ") != strings.Join(want, "; ") {
		t.Errorf("launch layers %q, want %q", holds, want)
	}
	if got := readFile(t, filepath.Join(layers, "paas.test_app", "compiled", "greeting")); got != "from the platform" {
		t.Errorf("the platform's env/GREETING reached bin/build as %q", got)
	}
	if got, want := res.Processes["web"], `exec 'hello-runtime' 'serve' 'it'\''s' '$PORT'`; got != want {
		t.Errorf("web = %q, want %q", got, want)
	}
	if got, want := res.Processes["worker"], `cd '/app/sub' && exec 'sh' '-c' 'echo working in $(pwd) with $GREETING${WORKER_ONLY:+ and $WORKER_ONLY}'`; got != want {
		t.Errorf("worker = %q, want %q", got, want)
	}
	if res.DefaultProcess != "web" {
		t.Errorf("DefaultProcess = %q, want web", res.DefaultProcess)
	}
	for _, want := range []string{
		`export PATH='/layers/paas.test_runtime/runtime/bin'':'"$PATH"`,
		`export RUNTIME_HOME=`,
		`export RUNTIME_FLAGS="$RUNTIME_FLAGS"' ''--fast'`,
		`if [ -z "${GREETING+set}" ]; then export GREETING='from the runtime'; fi`,
		`if [ "${PAAS_PROCESS_TYPE:-}" = 'worker' ]; then export WORKER_ONLY='worker-only'; fi`,
	} {
		if !strings.Contains(res.LaunchEnv, want) {
			t.Errorf("the launch environment lacks %q:\n%s", want, res.LaunchEnv)
		}
	}
	if len(res.SBOM) != 1 || res.SBOM[0].Path != "/layers/sbom/launch/paas.test_runtime/runtime/sbom.cdx.json" ||
		!strings.Contains(string(res.SBOM[0].Body), `"name": "hello-runtime", "version": "2.1"`) {
		t.Errorf("SBOM %+v, want the runtime layer's alone", res.SBOM)
	}
	if strings.Contains(res.LaunchEnv, "tools") || strings.Contains(res.LaunchEnv, "BUILD_ONLY") {
		t.Errorf("the build-only layer reached the launch environment:\n%s", res.LaunchEnv)
	}

	again, log, err := cnbBuild(t, app, layers, nil, "cnb-runtime", "cnb-app")
	if err != nil {
		t.Fatalf("second Build() = %v\n%s", err, log)
	}
	defer again.Close()
	if !strings.Contains(log, "Reusing the cached runtime 2.1") {
		t.Errorf("the second build did not reuse the cached runtime layer:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(layers, "paas.test_app", "compiled", "greeting")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a launch layer that is not a cache layer kept its content into the next build: %v", err)
	}
}

// A classic buildpack after a CNB one sees what the CNB build layers set.
func TestCNBMixedWithClassic(t *testing.T) {
	classic := buildpack{
		detect:  "exit 0",
		compile: `[ "$(build-tool)" = built-with-tools ] && [ "$BUILD_ONLY" = yes ] && [ -n "$RUNTIME_HOME" ] || { echo "CNB build env missing: $PATH" >&2; exit 1; }`,
		release: "echo '---'; echo 'default_process_types:'; echo '  classic: echo classic'",
	}.write(t, "classic")
	res, log, err := cnbBuild(t, app(t, "app.cnb", "1.0\n"), filepath.Join(t.TempDir(), "layers"), nil, "cnb-runtime", "cnb-app", classic)
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	defer res.Close()
	if res.Processes["classic"] == "" || res.Processes["web"] == "" {
		t.Errorf("processes %v, want classic's and the CNB buildpack's", res.Processes)
	}
}

// Detection follows the CNB API: 100 rejects the app, other statuses are
// errors, and plans that do not resolve fail with the reason.
func TestCNBDetect(t *testing.T) {
	layers := filepath.Join(t.TempDir(), "layers")
	for _, tc := range []struct {
		name, appFile string
		bps           []string
		want          string
	}{
		{"rejected", "other", []string{"cnb-runtime", "cnb-app"}, "rejected the app"},
		{"error status", "break", []string{"cnb-runtime", "cnb-app"}, "exited with status 3"},
		{"unmet requirement", "1.0", []string{"cnb-app"}, `requires "runtime", which no buildpack before it provides`},
		{"unmet provision", "1.0", []string{"cnb-runtime"}, `provides "runtime", which no buildpack from it on requires`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := []string{"app.cnb", tc.appFile + "\n"}
			if tc.appFile == "other" {
				files = []string{"other", ""}
			}
			_, log, err := cnbBuild(t, app(t, files...), layers, nil, tc.bps...)
			if !errors.Is(err, lifecycle.ErrDetect) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build() = %v, want %v saying %q\n%s", err, lifecycle.ErrDetect, tc.want, log)
			}
		})
	}
}

// writeCNB writes a CNB buildpack of id whose bin/detect and bin/build are
// the given /bin/sh bodies.
func writeCNB(t *testing.T, id, detect, build string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ReplaceAll(id, "/", "_"))
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"buildpack.toml": "api = \"0.10\"\n[buildpack]\nid = \"" + id + "\"\nversion = \"1\"\n",
		"bin/detect":     "#!/bin/sh\nset -e\n" + detect + "\n",
		"bin/build":      "#!/bin/sh\nset -e\n" + build + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A plan entry goes to its first provider; one that lists it in
// build.toml's [[unmet]] hands it on to the next provider, which does not
// get the entries the first built.
func TestCNBUnmet(t *testing.T) {
	tr := newTracer(t)
	provides := `printf '[[provides]]\nname = "thing"\n[[provides]]\nname = "other"\n' >> "$CNB_BUILD_PLAN_PATH"`
	first := writeCNB(t, "test/first", provides,
		tr.line(`first-$(grep -c 'name = ' "$CNB_BP_PLAN_PATH")`)+"\nprintf '[[unmet]]\\nname = \"thing\"\\n' > \"$CNB_LAYERS_DIR/build.toml\"")
	second := writeCNB(t, "test/second", provides, tr.line(`second-$(grep -o 'name = "[a-z]*"' "$CNB_BP_PLAN_PATH" | tr -d ' "' | tr '\n' ,)`))
	requires := writeCNB(t, "test/requires", `printf '[[requires]]\nname = "thing"\n[[requires]]\nname = "other"\n' >> "$CNB_BUILD_PLAN_PATH"`, "true")
	res, log, err := cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, first, second, requires)
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	defer res.Close()
	if got, want := strings.Join(tr.lines(t), " "), "first-2 second-name=thing,"; got != want {
		t.Errorf("plans seen: %q, want %q", got, want)
	}
}

// buildpackImage writes a buildpack image (a "buildpackage", as pack
// makes them) into an OCI layout: one layer per buildpack directory, at
// cnb/buildpacks/ID/VERSION, and returns its oci: reference.
func buildpackImage(t *testing.T, dirs map[string]string) string {
	t.Helper()
	img := empty.Image
	for idVersion, dir := range dirs {
		id, version, _ := strings.Cut(idVersion, "@")
		l, err := layers.FromDir(dir, layers.WithTempDir(t.TempDir()),
			layers.WithPrefix(path.Join("cnb/buildpacks", strings.ReplaceAll(id, "/", "_"), version)))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "layout")
	if err := oci.Write(context.Background(), img, "oci:"+out, "buildpack"); err != nil {
		t.Fatal(err)
	}
	return "oci:" + out
}

// A meta-buildpack given as an image runs the first of its groups whose
// members detect the app: an optional member that fails detection, or
// whose plan fits nothing, is left out; required members that fail move
// on to the next group.
func TestCNBMetaBuildpackImage(t *testing.T) {
	meta := t.TempDir()
	order := `api = "0.10"
[buildpack]
id = "paas.test/meta"
version = "2.0.0"

[[order]]
[[order.group]]
id = "paas.test/runtime"
version = "1.0.0"
[[order.group]]
id = "paas.test/app"
[[order.group]]
id = "paas.test/never"
version = "1"
optional = true
[[order.group]]
id = "paas.test/unused"
version = "1"
optional = true

[[order]]
[[order.group]]
id = "paas.test/never"
version = "1"
`
	if err := os.WriteFile(filepath.Join(meta, "buildpack.toml"), []byte(order), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := buildpackImage(t, map[string]string{
		"paas.test/meta@2.0.0":    meta,
		"paas.test/runtime@1.0.0": testenv.Fixture("buildpacks", "cnb-runtime"),
		"paas.test/app@0.1.0":     testenv.Fixture("buildpacks", "cnb-app"),
		"paas.test/never@1":       testenv.Fixture("buildpacks", "cnb-never"),
		"paas.test/unused@1":      testenv.Fixture("buildpacks", "cnb-unused"),
	})
	layersDir := filepath.Join(t.TempDir(), "layers")
	res, log, err := cnbBuild(t, app(t, "app.cnb", "1.5\n"), layersDir, nil, ref)
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, log)
	}
	defer res.Close()
	var used []string
	for _, bp := range res.Buildpacks {
		used = append(used, bp.ID+"@"+bp.Version)
	}
	if got, want := strings.Join(used, " "), "paas.test/runtime@1.0.0 paas.test/app@0.1.0"; got != want {
		t.Errorf("buildpacks %q, want %q\n%s", got, want, log)
	}
	if !strings.Contains(log, "group 1 of 2 detected the app") || res.Processes["web"] == "" {
		t.Errorf("processes %v; output:\n%s", res.Processes, log)
	}
	_, log, err = cnbBuild(t, app(t, "other", ""), layersDir, nil, ref)
	if !errors.Is(err, lifecycle.ErrDetect) {
		t.Errorf("an app no group detects: Build() = %v, want %v\n%s", err, lifecycle.ErrDetect, log)
	}
}
