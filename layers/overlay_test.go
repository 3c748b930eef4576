package layers

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// The changes a real overlay mount records in its upper directory become a
// layer that, unpacked over the lower tree, gives the merged tree: new and
// changed files, deletions (whiteouts) and directories replaced whole
// (opaque).
func TestFromDirOverlayUpper(t *testing.T) {
	testenv.Require(t, testenv.Root)
	base := t.TempDir()
	lower, upper, work, merged := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(lower, "keep.txt"), "kept")
	write(filepath.Join(lower, "gone.txt"), "deleted")
	write(filepath.Join(lower, "edit.txt"), "old")
	write(filepath.Join(lower, "assets/old.css"), "old assets")
	write(filepath.Join(lower, "assets/sub/deep.css"), "old deep")
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o",
		"lowerdir="+lower+",upperdir="+upper+",workdir="+work, merged).CombinedOutput(); err != nil {
		t.Fatalf("mount overlay: %v %s", err, out)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", merged).Run()
		}
	})
	if err := os.Remove(filepath.Join(merged, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(merged, "edit.txt"), "new")
	if err := os.RemoveAll(filepath.Join(merged, "assets")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(merged, "assets/new.css"), "built assets")
	write(filepath.Join(merged, "added/file.txt"), "added")
	want := snapshot(t, merged)
	if out, err := exec.Command("umount", merged).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	mounted = false

	l, err := FromDir(upper, WithOverlayUpper(), WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries(readLayer(t, l)) {
		names = append(names, e.Name)
	}
	for _, name := range []string{".wh.gone.txt", "assets/", "assets/.wh..wh..opq", "assets/new.css", "edit.txt", "added/file.txt"} {
		if !slices.Contains(names, name) {
			t.Errorf("layer lacks %s: %v", name, names)
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := Unpack(rc, lower); err != nil {
		t.Fatal(err)
	}
	// Times are the layer's epoch, as in every layer paas makes.
	if diffs := diffSnapshots(withoutTimes(snapshot(t, lower)), withoutTimes(want)); len(diffs) > 0 {
		t.Errorf("lower + layer differs from the merged tree:\n%v", diffs)
	}
}

var mtimes = regexp.MustCompile(` mtime=\d+`)

func withoutTimes(snap map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range snap {
		out[k] = mtimes.ReplaceAllString(v, "")
	}
	return out
}
