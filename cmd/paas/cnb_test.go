package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A CNB sample app builds with no flags: its project.toml names Cloud
// Native Buildpacks and, after them, a classic one, a build-time variable
// and a file to leave out. They
// build in the sandbox on the stack, as root and as an ordinary user: their
// launch layers become image layers at /layers, their launch environment
// and processes work when the image starts, and the second build restores
// the cache layer, so the runtime is not downloaded again and its layer
// keeps its digest.
func TestBuildCNBBuildpacks(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := userTempDir(t, h.user)
		if err := os.Chmod(app, 0o755); err != nil {
			t.Fatal(err)
		}
		descriptor := `[_]
schema-version = "0.2"
[io.buildpacks]
exclude = ["secret.txt"]
[[io.buildpacks.group]]
uri = "` + buildpackDir("cnb-runtime") + `"
[[io.buildpacks.group]]
uri = "` + buildpackDir("cnb-app") + `"
[[io.buildpacks.group]]
uri = "` + buildpackDir("classic-after-cnb") + `"
[[io.buildpacks.build.env]]
name = "GREETING"
value = "from project.toml"
`
		for name, body := range map[string]string{"project.toml": descriptor, "app.cnb": "3.0\n", "secret.txt": "left out\n"} {
			if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		chown(t, app, h.user)
		out, code := h.paas(t, "build", "-t", "cnb", app)
		if code != 0 || !strings.Contains(out.stderr+out.stdout, "Downloading runtime 3.0") {
			t.Fatalf("paas build: exit %d\n%s%s", code, out.stdout, out.stderr)
		}
		first := h.mustBuild(t, "-t", "cnb", "-e", "BUILD=2", app)
		runtimeLayer := ""
		var holds []string
		for _, l := range first.Layers {
			holds = append(holds, l.Holds)
			if strings.HasPrefix(l.Holds, "paas.test/runtime layer runtime") {
				runtimeLayer = l.Digest
			}
		}
		for _, want := range []string{
			"paas.test/runtime layer runtime (/layers/paas.test_runtime/runtime)",
			"paas.test/app layer compiled (/layers/paas.test_app/compiled, kept from the last image)",
			"launch environment (/paas/profile.d)",
			"bills of materials (/layers/sbom)",
		} {
			if !strings.Contains(strings.Join(holds, "\n"), want) {
				t.Errorf("layers %q lack %q", holds, want)
			}
		}
		again, code := h.paas(t, "build", "-t", "cnb", "-e", "BUILD=3", app)
		if code != 0 || !strings.Contains(again.stderr+again.stdout, "Reusing the cached runtime 3.0") ||
			!strings.Contains(again.stderr+again.stdout, "Keeping the compiled layer of the last image") {
			t.Fatalf("third build: exit %d, want the cached runtime reused\n%s%s", code, again.stdout, again.stderr)
		}
		third := h.mustBuild(t, "-t", "cnb", "-e", "BUILD=4", app)
		for i, l := range third.Layers {
			if strings.HasPrefix(l.Holds, "paas.test/runtime layer runtime") && l.Digest != runtimeLayer {
				t.Errorf("the cached runtime layer is %s, was %s", l.Digest, runtimeLayer)
			}
			if strings.HasPrefix(l.Holds, "paas.test/app layer compiled") && l.Digest != first.Layers[i].Digest {
				t.Errorf("the kept compiled layer is %s, was %s", l.Digest, first.Layers[i].Digest)
			}
		}

		img := storedImage(t, h, third.Image)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Buildpacks []struct {
				Key    string
				Layers map[string]struct {
					SHA    string
					Data   map[string]any
					Launch bool
					Cache  bool
				}
			}
		}
		if err := json.Unmarshal([]byte(cf.Config.Labels["io.buildpacks.lifecycle.metadata"]), &meta); err != nil || len(meta.Buildpacks) != 3 {
			t.Fatalf("io.buildpacks.lifecycle.metadata = %s (%v)", cf.Config.Labels["io.buildpacks.lifecycle.metadata"], err)
		}
		if l := meta.Buildpacks[0].Layers["runtime"]; meta.Buildpacks[0].Key != "paas.test/runtime" || l.SHA != runtimeLayer || l.Data["version"] != "3.0" || !l.Launch || !l.Cache {
			t.Errorf("the lifecycle label gives the runtime layer as %+v, want its digest %s, metadata and types", meta.Buildpacks[0], runtimeLayer)
		}
		rootfs := unpackImage(t, img)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{nil, "hello-runtime 3.0 (--fast): serve it's $PORT\n"},
			{[]string{"worker"}, "working in /app/sub with from the runtime and worker-only\n"},
			{[]string{"classic"}, "classic saw /layers/paas.test_runtime/runtime\n"},
			{[]string{"sh", "-c", "echo ${WORKER_ONLY:-unset}; echo $RUNTIME_MEMORY"}, "unset\nsized at launch for a command\n"},
			{[]string{"sh", "-c", "cd /layers/sbom && find . -type f | sort"}, "./launch/paas.test_runtime/runtime/sbom.cdx.json\n"},
			{[]string{"sh", "-c", "echo $RUNTIME_HOME; cat /layers/paas.test_app/compiled/app.out /layers/paas.test_app/compiled/greeting; echo; ls /app/secret.txt 2>&1 || true"},
				"/layers/paas.test_runtime/runtime\ncompiled\nfrom project.toml\nls: cannot access '/app/secret.txt': No such file or directory\n"},
		} {
			var out strings.Builder
			if err := launchImage(context.Background(), t, img, rootfs, nil, &out, tc.args...); err != nil {
				t.Errorf("launcher %q: %v", tc.args, err)
			}
			if out.String() != tc.want {
				t.Errorf("launcher %q printed %q, want %q", tc.args, out.String(), tc.want)
			}
		}
	})
}
