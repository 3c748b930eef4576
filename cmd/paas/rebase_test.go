package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/rebase"
)

// paas rebase moves a built image onto the newer run image of its stack
// (here the test stack imported again with one more file) without running
// a buildpack: the app's layers keep their digests, and the result runs on
// containerd and on the sandbox runtime, with the newer run image's file.
func TestRebaseRuns(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	h := newHome(t, root, t.TempDir())
	built := h.mustBuild(t, "-t", "rebased", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))

	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.tar")
	data, err := os.ReadFile(testenv.StackTar(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newer, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "paas-rebased"), []byte("the newer run image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-rf", newer, "-C", dir, "--owner=0", "--group=0", "etc/paas-rebased").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if out, code := h.paas(t, "stack", "import", "test", newer); code != 0 {
		t.Fatalf("paas stack import: exit %d\n%s", code, out.stderr)
	}

	out, code := h.paas(t, "rebase", "--json", "rebased")
	if code != 0 {
		t.Fatalf("paas rebase: exit %d\n%s", code, out.stderr)
	}
	var r rebase.Report
	if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
		t.Fatalf("paas rebase --json printed %q: %v", out.stdout, err)
	}
	if r.Previous != built.Digest || r.Digest == built.Digest {
		t.Errorf("report %+v, want a new image after %s", r, built.Digest)
	}
	app := len(built.Layers) - 1 // the test stack is one layer
	before, after := lastLayers(t, storedImage(t, h, "rebased:latest"), app), built.Layers[1:]
	for i, l := range before {
		if d, _ := l.Digest(); d.String() != after[i].Digest {
			t.Errorf("app layer %d is %s after the rebase, was %s (%s)", i, d, after[i].Digest, after[i].Holds)
		}
	}

	for _, rt := range []string{"containerd", "sandbox"} {
		t.Run(rt, func(t *testing.T) {
			out, code := h.paas(t, append(append([]string{"run"}, runtimeArgs(t, rt)...), "rebased", "--", "sh", "-c", "cat /etc/paas-rebased && echo $GREETING")...)
			if code != 0 || out.stdout != "the newer run image\nhello\n" {
				t.Errorf("the rebased image: exit %d, printed %q\n%s", code, out.stdout, out.stderr)
			}
		})
	}
	out, code = h.paas(t, "rebase", "--run-image", "nope", "rebased")
	if code != 4 || !strings.Contains(out.stderr, "nope") {
		t.Errorf("rebase onto a missing stack: exit %d, want 4\n%s", code, out.stderr)
	}
}
