package stacks

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
)

// unpackLayers unpacks crafted layers with Rootfs and returns the tree.
func unpackLayers(t *testing.T, ls ...[]entry) string {
	t.Helper()
	return unpackLayersIn(t, tempHome(t), ls...)
}

// tempHome is t.TempDir for unpacked trees: they have read-only
// directories, which the testing package's cleanup cannot remove unless the
// caller is root.
func tempHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := fsutil.RemoveAll(dir); err != nil {
			t.Errorf("RemoveAll(%s) = %v", dir, err)
		}
	})
	return dir
}

func imageOfEntries(t *testing.T, layers ...[]entry) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, entries := range layers {
		ls = append(ls, layerOf(t, entries...))
	}
	return imageOf(t, ls...)
}

func TestUnpackWhiteouts(t *testing.T) {
	lower := []entry{
		dir("etc", 0o755), file("etc/keep", "keep"), file("etc/gone", "gone"),
		dir("etc/sub", 0o755), file("etc/sub/deep", "deep"),
		dir("opq", 0o755), file("opq/old", "old"), dir("opq/olddir", 0o755), file("opq/olddir/x", "x"),
		dir("var", 0o755), file("var/cache", "cache"),
	}
	upper := []entry{
		whiteout("etc/.wh.gone"), whiteout("etc/.wh.sub"),
		file("opq/new-before", "same layer, before the marker"),
		whiteout("opq/.wh..wh..opq"),
		file("opq/new-after", "same layer, after the marker"),
		whiteout("var/.wh.cache"), file("var/cache", "recreated"),
		whiteout(".wh.missing"), whiteout("nodir/.wh.x"),
	}
	root := unpackLayers(t, lower, upper)
	want := map[string]string{
		"etc/":           "",
		"etc/keep":       "keep",
		"opq/":           "",
		"opq/new-before": "same layer, before the marker",
		"opq/new-after":  "same layer, after the marker",
		"var/":           "",
		"var/cache":      "recreated",
	}
	if got := treeOf(t, root); !equalMaps(got, want) {
		t.Errorf("Rootfs() tree = %v, want %v", got, want)
	}
}

// TestUnpackMatchesUmoci unpacks the same layered image with umoci, an
// independent implementation of the OCI layer rules.
func TestUnpackMatchesUmoci(t *testing.T) {
	img := imageOfEntries(t,
		[]entry{dir("a", 0o755), file("a/1", "1"), file("a/2", "2"), dir("b", 0o755), file("b/3", "3"), symlink("lib", "a")},
		[]entry{whiteout("a/.wh.1"), whiteout("b/.wh..wh..opq"), file("b/4", "4"), file("lib/5", "through the link")},
		[]entry{whiteout(".wh.b"), hardlink("a/hard", "a/2")},
	)
	root, err := Rootfs(context.Background(), t.TempDir(), img)
	if err != nil {
		t.Fatalf("Rootfs() error: %v", err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refAnnotation: "test"})); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--rootless", "--image", dir+":test", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	if got, want := treeOf(t, root), treeOf(t, filepath.Join(bundle, "rootfs")); !equalMaps(got, want) {
		t.Errorf("Rootfs() tree = %v, want %v as umoci unpacks it", got, want)
	}
}

// TestUnpackStackMatchesTar compares the unpacked test stack with GNU tar's
// extraction of the same tarball, entry by entry.
func TestUnpackStackMatchesTar(t *testing.T) {
	// tar makes the reference tree, with the stack's device nodes: mknod needs root.
	testenv.Require(t, testenv.Stack|testenv.Root)
	img := testStackImage(t)
	root, err := Rootfs(context.Background(), t.TempDir(), img)
	if err != nil {
		t.Fatalf("Rootfs() error: %v", err)
	}
	ref := t.TempDir()
	if out, err := exec.Command("tar", "-xpf", testenv.StackTar(t), "-C", ref).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	got, want := describeTree(t, root), describeTree(t, ref)
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("%s: Rootfs() = %q, want %q as tar extracts it", name, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Rootfs() has %d entries, want %d", len(got), len(want))
	}
}

// describeTree maps each path under root to its type, permissions, link
// target or content digest, normalised the way Rootfs documents: no set-ID
// bits on files, owner r-x on directories, devices for their owner only.
func describeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		perm := mode.Perm() | mode&(fs.ModeSticky)
		desc := ""
		switch {
		case mode.IsRegular():
			desc = fmt.Sprintf("file %o %s", perm, fileDigest(t, p))
		case mode.IsDir():
			desc = fmt.Sprintf("dir %o", (perm|0o500)|mode&fs.ModeSetgid)
		case mode&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc = "symlink " + target
		case mode&fs.ModeCharDevice != 0:
			st := fi.Sys().(*syscall.Stat_t)
			desc = fmt.Sprintf("char %o %d", perm&0o600, st.Rdev)
		default:
			desc = mode.String()
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return out
}

func fileDigest(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

func TestUnpackStaysInside(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("host"), 0o644)
	// The links' targets exist inside the root: layers.Unpack refuses to
	// write through a dangling link rather than guess a directory for it.
	layers := [][]entry{
		{
			dir(outside[1:], 0o755), dir("etc", 0o755),
			symlink("abs", outside), symlink("rel", "../../../../../../../.."+outside),
			symlink("hostetc", "/etc"),
		},
		{
			file("abs/pwned", "x"), file("rel/pwned", "x"), file("../../pwned-dotdot", "x"),
			file("hostetc/pwned", "x"), file("abs/secret", "overwrite?"), whiteout("abs/.wh.secret"),
		},
	}
	root := unpackLayers(t, layers...)
	if b, err := os.ReadFile(secret); err != nil || string(b) != "host" {
		t.Errorf("host file %s = %q, %v, want untouched", secret, b, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("host dir %s has %d entries, want only the secret", outside, len(entries))
	}
	if _, err := os.Lstat("/etc/pwned"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(/etc/pwned) = %v, want not exist", err)
	}
	want := []string{
		filepath.Join(outside[1:], "pwned"), // abs and rel resolve inside the root
		"etc/pwned",
		"pwned-dotdot",
	}
	for _, w := range want {
		if _, err := os.Lstat(filepath.Join(root, w)); err != nil {
			t.Errorf("Lstat(%s) in the tree = %v, want it there", w, err)
		}
	}
}

func TestUnpackHardlinkStaysInside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("host"), 0o644)
	img := imageOfEntries(t, []entry{hardlink("stolen", outside)})
	_, err := Rootfs(context.Background(), t.TempDir(), img)
	if err == nil {
		t.Errorf("Rootfs(hard link to %s) succeeded, want an error", outside)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(outside, &st); err != nil || st.Nlink != 1 {
		t.Errorf("links to the host file = %d, %v, want 1", st.Nlink, err)
	}
}

func TestUnpackEntries(t *testing.T) {
	root := unpackLayers(t,
		[]entry{
			dir("ro", 0o555), file("ro/f", "in a read-only dir"),
			dir("locked", 0o000),
			dir("tmp", 0o1777),
			fileMode("setuid", 0o4755), fileMode("sticky-free", 0o640),
			file("target", "shared"), hardlink("hard", "target"),
			special("fifo", tar.TypeFifo), special("null", tar.TypeChar),
			file("was-file", "x"), dir("was-dir", 0o755), file("was-dir/child", "y"),
			symlink("dangling", "/nowhere"),
		},
		[]entry{
			file("ro/g", "added by a later layer"),
			dir("was-file", 0o755), file("was-dir", "now a file"),
		},
	)
	tests := []struct {
		name string
		want string
	}{
		{"ro", "dr-xr-xr-x"},
		{"ro/g", "-rw-r--r--"},
		{"locked", "dr-x------"},
		{"tmp", "dtrwxrwxrwx"},
		{"setuid", "-rwxr-xr-x"},
		{"sticky-free", "-rw-r-----"},
		{"fifo", "prw-rw-rw-"},
		{"was-file", "drwxr-xr-x"},
		{"was-dir", "-rw-r--r--"},
		{"dangling", "Lrwxrwxrwx"},
	}
	// Only root may make device nodes; for anyone else the unpack skips them.
	if os.Getuid() == 0 {
		tests = append(tests, struct{ name, want string }{"null", "Dcrw-------"})
	} else if _, err := os.Lstat(filepath.Join(root, "null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(null) as uid %d = %v, want %v", os.Getuid(), err, fs.ErrNotExist)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Lstat(filepath.Join(root, tt.name))
			if err != nil {
				t.Fatalf("Lstat() error: %v", err)
			}
			if got := fi.Mode().String(); got != tt.want {
				t.Errorf("mode of %s = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	a, _ := os.Stat(filepath.Join(root, "target"))
	b, _ := os.Stat(filepath.Join(root, "hard"))
	if !os.SameFile(a, b) {
		t.Errorf("hard and target are different files, want one inode")
	}
}

// treeOf maps every path under root to its content ("" for directories,
// "-> target" for symlinks); directories end in a slash.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestUnpackDotDotWhiteout unpacks a stack whose layer whites out "..",
// which once removed the rootfs cache and every other stack in it: the
// unpack fails and the other stacks stay.
func TestUnpackDotDotWhiteout(t *testing.T) {
	home := t.TempDir()
	other := unpackLayersIn(t, home, []entry{file("etc/other", "other stack")})
	img := imageOfEntries(t, []entry{file("etc/x", "x")}, []entry{whiteout(".wh..."), whiteout("etc/.wh...")})
	if _, err := Rootfs(context.Background(), home, img); !errors.Is(err, layers.ErrUnsafeEntry) {
		t.Errorf("Rootfs(.wh... layer) = %v, want %v", err, layers.ErrUnsafeEntry)
	}
	if b, err := os.ReadFile(filepath.Join(other, "etc/other")); err != nil || string(b) != "other stack" {
		t.Errorf("other stack's etc/other = %q, %v, want it untouched", b, err)
	}
}

// unpackLayersIn is unpackLayers with the paas home given.
func unpackLayersIn(t *testing.T, home string, ls ...[]entry) string {
	t.Helper()
	root, err := Rootfs(context.Background(), home, imageOfEntries(t, ls...))
	if err != nil {
		t.Fatalf("Rootfs() error: %v", err)
	}
	return root
}
