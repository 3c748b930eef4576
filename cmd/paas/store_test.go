package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Two builds at once into one store both land.
func TestBuildConcurrentIntoOneStore(t *testing.T) {
	h := sharedHome(t, root)
	var wg sync.WaitGroup
	names := []string{"concurrent-a", "concurrent-b"}
	outs := make([]output, len(names))
	codes := make([]int, len(names))
	for i, name := range names {
		cmd := h.command(nil, "build", "-t", name, "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			outs[i].stderr, codes[i] = string(out), cmd.ProcessState.ExitCode()
			_ = err
		}()
	}
	wg.Wait()
	for i, name := range names {
		if codes[i] != 0 {
			t.Fatalf("build %s: exit %d\n%s", name, codes[i], outs[i].stderr)
		}
		if err := validate.Image(storedImage(t, h, name+":latest")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Names that would be paths ("..", "a/../b") are refused before any work;
// names that differ only in separators ("a/b", "a_b") never share a build
// cache.
func TestStoreNames(t *testing.T) {
	h := sharedHome(t, root)
	for _, args := range [][]string{
		{"build", "-t", "..", "-b", buildpackDir("hello"), appCopy(t, root, "hello")},
		{"build", "-t", "a/../b", "-b", buildpackDir("hello"), appCopy(t, root, "hello")},
		{"stack", "create", ".."},
		{"stack", "import", "..", testFixtureApp("hello")},
		{"rm", "../x"},
	} {
		out, code := h.paas(t, args...)
		if code != 2 || !strings.Contains(out.stderr, "invalid image name") {
			t.Errorf("paas %v: exit %d, want 2 and an invalid name\n%s", args, code, out.stderr)
		}
	}
	app := userTempDir(t, root)
	for i, tag := range []string{"cache/a", "cache_a", "cache/a"} {
		// A config var of its own each time, so that no build is the last
		// one unchanged.
		h.mustBuild(t, "-t", tag, "-b", buildpackDir("cache-env"), "-e", fmt.Sprintf("BUILD=%d", i), app)
	}
	want := map[string]string{"cache/a": "2", "cache_a": "1"}
	for tag, n := range want {
		if got := strings.TrimSpace(appFile(t, h, tag, "build-count")); got != n {
			t.Errorf("%s: build count %s, want %s (its own cache)", tag, got, n)
		}
	}
}
