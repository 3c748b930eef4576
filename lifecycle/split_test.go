package lifecycle_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/lifecycle"
)

// nodeLike is a buildpack that installs what deps.txt lists into
// node_modules, a runtime into .heroku/node, and a tree of its own into
// .toolchain, which it declares in its layers file along with lines paas
// must ignore.
var nodeLike = buildpack{
	detect: "echo Node-like",
	compile: `set -e; build=$1; bp=$(cd "$(dirname "$0")/.." && pwd)
for dep in $(cat "$build/deps.txt"); do
	mkdir -p "$build/node_modules/$dep"
	printf 'module.exports = "%s";\n' "$dep" > "$build/node_modules/$dep/index.js"
done
mkdir -p "$build/.heroku/node/bin" "$build/.toolchain/lib"
printf '#!/bin/sh\necho node\n' > "$build/.heroku/node/bin/node"
chmod 755 "$build/.heroku/node/bin/node"
echo toolchain > "$build/.toolchain/lib/tool"
printf '# installed here\n.toolchain\n\n/etc\n../outside\n' > "$bp/paas-layers"`,
	release: `printf 'default_process_types:\n  web: node server.js\n'`,
}

// nodeApp writes a Node-like app's source.
func nodeApp(t *testing.T) string {
	return app(t, "deps.txt", "left-pad\nexpress\n", "server.js", "console.log('hello')\n", "package.json", "{}\n")
}

// buildNode builds appDir with the buildpack bp, failing the test on
// error.
func buildNode(t *testing.T, bp, appDir string) (*lifecycle.Result, string) {
	t.Helper()
	res, log, err := build(t, appDir, func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	return res, log
}

// memReuse remembers every layer an export made, by compressor and DiffID.
type memReuse struct {
	headers map[string]bool
	layers  map[string]v1.Layer
}

func newMemReuse() *memReuse {
	return &memReuse{headers: map[string]bool{}, layers: map[string]v1.Layer{}}
}

func (m *memReuse) Maybe(c string, h v1.Hash) bool { return m.headers[c+h.String()] }

func (m *memReuse) Layer(c string, d v1.Hash) v1.Layer { return m.layers[c+d.String()] }

func (m *memReuse) Made(c string, h v1.Hash, l v1.Layer) {
	d, err := l.DiffID()
	if err != nil {
		panic(err)
	}
	m.headers[c+h.String()], m.layers[c+d.String()] = true, l
}

// exportWith exports res with reuse into a fresh temp dir and returns the
// image, its layers' descriptions and how many blobs the export
// compressed.
func exportWith(t *testing.T, res *lifecycle.Result, base v1.Image, reuse *memReuse) (v1.Image, []lifecycle.LayerInfo, int) {
	t.Helper()
	tmp := t.TempDir()
	o := lifecycle.ExportOptions{Base: base, Stack: lifecycle.StackLabel{Name: "test"}, Epoch: epoch, TempDir: tmp}
	if reuse != nil {
		o.Reuse = reuse
	}
	img, infos, err := lifecycle.Export(res, o)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	return img, infos, len(blobs)
}

func holds(infos []lifecycle.LayerInfo) []string {
	var out []string
	for _, l := range infos {
		out = append(out, l.Holds)
	}
	return out
}

// Dependency directories, the defaults and those a buildpack declares, get
// layers of their own in path order before the app's code, and together
// the app layers hold every file of /app exactly once.
func TestExportDependencyLayers(t *testing.T) {
	res, log := buildNode(t, nodeLike.write(t, "node-like"), nodeApp(t))
	for _, bad := range []string{`"/etc" is not a path relative to the app`, `"../outside" is not a path relative to the app`} {
		if !strings.Contains(log, bad) {
			t.Errorf("build output lacks a warning that %s:\n%s", bad, log)
		}
	}
	base := baseImage(t)
	img, infos, _ := exportWith(t, res, base, nil)
	want := []string{"stack test", "stack test", "launcher (/paas/launcher)", "process types (/paas/processes)",
		"dependencies (/app/.heroku)", "dependencies (/app/.toolchain)", "dependencies (/app/node_modules)", "app (/app)"}
	if got := holds(infos); !slices.Equal(got, want) {
		t.Fatalf("layers hold\n%q\nwant\n%q", got, want)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dirModes := map[string]int64{}
	for i, l := range ls[4:] {
		for name, e := range layerFiles(t, l) {
			if e.hdr.Uid != lifecycle.RunUID || e.hdr.Gid != lifecycle.RunGID {
				t.Errorf("%s owned by %d:%d", name, e.hdr.Uid, e.hdr.Gid)
			}
			if strings.HasSuffix(name, "/") {
				dirModes[name] = e.hdr.Mode // the last layer's wins
				continue
			}
			seen[name]++
			if dep := strings.TrimPrefix(want[4+i], "dependencies (/"); dep != want[4+i] && !strings.HasPrefix(name, strings.TrimSuffix(dep, ")")+"/") {
				t.Errorf("%s holds %s", want[4+i], name)
			}
		}
	}
	err = filepath.Walk(res.AppDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(res.AppDir, p)
		name := filepath.ToSlash(filepath.Join("app", rel))
		if fi.IsDir() {
			if mode, ok := dirModes[name+"/"]; !ok || mode != int64(fi.Mode().Perm()) {
				t.Errorf("directory %s: mode %o in the image (there: %v), want %o", name, mode, ok, fi.Mode().Perm())
			}
		} else if seen[name] != 1 {
			t.Errorf("%s is in %d layers, want 1", name, seen[name])
		}
		delete(seen, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Errorf("layers hold files /app lacks: %v", seen)
	}
}

// Which directories are split off: real, non-empty directories, reached
// without links, not inside another one; at most MaxDependencyLayers.
func TestExportDependencyRules(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) {
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel, "f"), []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"vendor/bundle", "real/deps", "venv-target", "a", "a-b"} {
		mk(d)
	}
	for link, target := range map[string]string{"node_modules": "real", "lib": "real", ".venv": "venv-target"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".apt"), 0o755); err != nil { // empty
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".heroku"), nil, 0o644); err != nil { // a file
		t.Fatal(err)
	}
	declared := []string{"vendor/bundle", "lib/deps", "a/b", "a", "a-b", "missing"}
	_, infos, _ := exportWith(t, &lifecycle.Result{AppDir: dir, DependencyDirs: declared}, baseImage(t), nil)
	want := []string{"dependencies (/app/a)", "dependencies (/app/a-b)", "dependencies (/app/vendor)", "app (/app)"}
	if got := holds(infos)[4:]; !slices.Equal(got, want) {
		t.Errorf("layers hold %q, want %q", got, want)
	}

	// Past the limit, the last directories stay in the app layer.
	many := t.TempDir()
	var names []string
	for i := range lifecycle.MaxDependencyLayers + 2 {
		names = append(names, fmt.Sprintf("d%02d", i))
		if err := os.MkdirAll(filepath.Join(many, names[i], "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []string
	_, infos, err := lifecycle.Export(&lifecycle.Result{AppDir: many, DependencyDirs: names}, lifecycle.ExportOptions{
		Base: baseImage(t), Epoch: epoch, TempDir: t.TempDir(),
		Warn: func(msg string) { warnings = append(warnings, msg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(infos) - 5; n != lifecycle.MaxDependencyLayers {
		t.Errorf("%d dependency layers, want %d", n, lifecycle.MaxDependencyLayers)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], names[lifecycle.MaxDependencyLayers]) {
		t.Errorf("warnings %q, want one naming %s", warnings, names[lifecycle.MaxDependencyLayers])
	}
}

// A rebuild of an unchanged app compresses nothing and keeps every digest;
// after one source file changes only the app layer is compressed again,
// and the dependency layers keep their digests. A cache never changes
// what the image is.
func TestExportReuse(t *testing.T) {
	src, bp := nodeApp(t), nodeLike.write(t, "node-like")
	base := baseImage(t)
	reuse := newMemReuse()
	res, _ := buildNode(t, bp, src)
	first, firstInfos, written := exportWith(t, res, base, reuse)
	if written != 6 || slices.ContainsFunc(firstInfos, func(l lifecycle.LayerInfo) bool { return l.Reused }) {
		t.Errorf("first export compressed %d layers, reused %v; want all 6, none", written, firstInfos)
	}

	res, _ = buildNode(t, bp, src)
	again, infos, written := exportWith(t, res, base, reuse)
	if written != 0 {
		t.Errorf("unchanged rebuild compressed %d layers, want none", written)
	}
	for i, l := range infos {
		if l.Digest != firstInfos[i].Digest || (i >= 2) != l.Reused {
			t.Errorf("layer %d (%s): %s reused %v, was %s", i, l.Holds, l.Digest, l.Reused, firstInfos[i].Digest)
		}
	}
	if d1, d2 := digestOf(t, first), digestOf(t, again); d1 != d2 {
		t.Errorf("unchanged rebuild gave %s, want %s", d2, d1)
	}

	if err := os.WriteFile(filepath.Join(src, "server.js"), []byte("console.log('hello, again')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	edited, _ := buildNode(t, bp, src)
	changed, infos, written := exportWith(t, edited, base, reuse)
	if written != 1 {
		t.Errorf("one-file change compressed %d layers, want 1", written)
	}
	for i, l := range infos {
		code := i == len(infos)-1
		if (l.Digest != firstInfos[i].Digest) != code || l.Reused != (i >= 2 && !code) {
			t.Errorf("after one file changed, layer %d (%s) is %s, reused %v; was %s", i, l.Holds, l.Digest, l.Reused, firstInfos[i].Digest)
		}
	}
	plain, _, _ := exportWith(t, edited, base, nil)
	if d1, d2 := digestOf(t, changed), digestOf(t, plain); d1 != d2 {
		t.Errorf("with reused layers the image is %s, without %s", d1, d2)
	}
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
