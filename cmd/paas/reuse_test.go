package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/paas-dev/paas/builder"
)

// reusedLayers lists, per layer of a build report, whether it was reused.
func reusedLayers(r builder.Report) []bool {
	var out []bool
	for _, l := range r.Layers {
		out = append(out, l.Reused)
	}
	return out
}

// A Node-like app (the deps buildpack installs node_modules and declares
// .runtime) gets its dependencies in layers of their own. Built again
// unchanged, every layer of paas's is reused and the digest is the same;
// after one source file changes, only the app layer is new and the
// dependency layers keep their digests.
func TestBuildReusesDependencyLayers(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := appCopy(t, h.user, "deps")
		args := []string{"-t", "deps-" + h.user.name, "-b", buildpackDir("deps"), app}
		// --no-cache: the shared home may hold an earlier run's layers.
		first := h.mustBuild(t, append([]string{"--no-cache"}, args...)...)
		n := len(first.Layers)
		if n < 4 || first.Layers[n-3].Holds != "dependencies (/app/.runtime)" ||
			first.Layers[n-2].Holds != "dependencies (/app/node_modules)" || first.Layers[n-1].Holds != "app (/app)" {
			t.Fatalf("layers %+v, want .runtime, node_modules and the app last", first.Layers)
		}
		if slices.Contains(reusedLayers(first), true) {
			t.Errorf("a --no-cache build reused layers: %v", reusedLayers(first))
		}
		ls := lastLayers(t, storedImage(t, h, first.Image), 3)
		if _, ok := layerEntries(t, ls[1])["app/node_modules/left-pad/lib/index.js"]; !ok {
			t.Errorf("the node_modules layer lacks app/node_modules/left-pad/lib/index.js")
		}
		code := layerEntries(t, ls[2])
		for _, name := range []string{"app/node_modules", "app/.runtime", "app/node_modules/left-pad/package.json"} {
			if _, ok := code[name]; ok {
				t.Errorf("the app layer holds %s", name)
			}
		}
		if _, ok := code["app/server.js"]; !ok {
			t.Errorf("the app layer lacks app/server.js")
		}

		again := h.mustBuild(t, args...)
		paasLayers := reusedLayers(again)[n-5:]
		if again.Digest != first.Digest || slices.Contains(paasLayers, false) {
			t.Errorf("unchanged rebuild: %s reusing %v; want %s reusing every layer of paas's", again.Digest, reusedLayers(again), first.Digest)
		}

		writeFile(t, filepath.Join(app, "server.js"), "console.log('edited');\n")
		chown(t, filepath.Join(app, "server.js"), h.user)
		edited := h.mustBuild(t, args...)
		for i, l := range edited.Layers {
			isCode := i == n-1
			if changed := l.Digest != first.Layers[i].Digest; changed != isCode || (i >= n-5 && l.Reused == isCode) {
				t.Errorf("after editing server.js, layer %d (%s) is %s, reused %v; it was %s", i, l.Holds, l.Digest, l.Reused, first.Layers[i].Digest)
			}
		}
	})
}
