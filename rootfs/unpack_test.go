package rootfs

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/layers"
)

// unpackLayers unpacks crafted layers with Get and returns the tree.
func unpackLayers(t *testing.T, ls ...[]testenv.TarEntry) string {
	t.Helper()
	return unpackLayersIn(t, newCache(t), ls...)
}

func TestUnpackWhiteouts(t *testing.T) {
	lower := []testenv.TarEntry{
		testenv.Dir("etc", 0o755), testenv.File("etc/keep", "keep"), testenv.File("etc/gone", "gone"),
		testenv.Dir("etc/sub", 0o755), testenv.File("etc/sub/deep", "deep"),
		testenv.Dir("opq", 0o755), testenv.File("opq/old", "old"), testenv.Dir("opq/olddir", 0o755), testenv.File("opq/olddir/x", "x"),
		testenv.Dir("var", 0o755), testenv.File("var/cache", "cache"),
	}
	upper := []testenv.TarEntry{
		testenv.Whiteout("etc/.wh.gone"), testenv.Whiteout("etc/.wh.sub"),
		testenv.File("opq/new-before", "same layer, before the marker"),
		testenv.Whiteout("opq/.wh..wh..opq"),
		testenv.File("opq/new-after", "same layer, after the marker"),
		testenv.Whiteout("var/.wh.cache"), testenv.File("var/cache", "recreated"),
		testenv.Whiteout(".wh.missing"), testenv.Whiteout("nodir/.wh.x"),
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
	if got := treeOf(t, root); !maps.Equal(got, want) {
		t.Errorf("Get() tree = %v, want %v", got, want)
	}
}

// TestUnpackMatchesUmoci unpacks the same layered image with umoci, an
// independent implementation of the OCI layer rules.
func TestUnpackMatchesUmoci(t *testing.T) {
	img := imageOfEntries(t,
		[]testenv.TarEntry{testenv.Dir("a", 0o755), testenv.File("a/1", "1"), testenv.File("a/2", "2"), testenv.Dir("b", 0o755), testenv.File("b/3", "3"), testenv.Symlink("lib", "a")},
		[]testenv.TarEntry{testenv.Whiteout("a/.wh.1"), testenv.Whiteout("b/.wh..wh..opq"), testenv.File("b/4", "4"), testenv.File("lib/5", "through the link")},
		[]testenv.TarEntry{testenv.Whiteout(".wh.b"), testenv.Hardlink("a/hard", "a/2")},
	)
	root, err := newCache(t).Get(context.Background(), img)
	if err != nil {
		t.Fatalf("Get() error: %v", err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "test"})); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--rootless", "--image", dir+":test", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	if got, want := treeOf(t, root), treeOf(t, filepath.Join(bundle, "rootfs")); !maps.Equal(got, want) {
		t.Errorf("Get() tree = %v, want %v as umoci unpacks it", got, want)
	}
}

// TestUnpackStackMatchesTar compares the unpacked test stack with GNU tar's
// extraction of the same tarball, entry by entry.
func TestUnpackStackMatchesTar(t *testing.T) {
	// tar makes the reference tree with the stack's owners: chown needs root.
	testenv.Require(t, testenv.Stack|testenv.Root)
	img := testStackImage(t)
	root, err := newCache(t).Get(context.Background(), img)
	if err != nil {
		t.Fatalf("Get() error: %v", err)
	}
	ref := t.TempDir()
	if out, err := exec.Command("tar", "-xpf", testenv.StackTar(t), "-C", ref).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	got, want := describeTree(t, root), describeTree(t, ref)
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("%s: Get() = %q, want %q as tar extracts it", name, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Get() has %d entries, want %d", len(got), len(want))
	}
}

// describeTree maps each path under root to its type, permissions, link
// target or content digest, normalised the way Get documents: no set-ID
// bits on files, and no device nodes (the sandbox's /dev is its own).
// Directories are compared with owner r-x, which tar -x gives them.
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
		case mode&fs.ModeDevice != 0:
			return nil
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
	layers := [][]testenv.TarEntry{
		{
			testenv.Dir(outside[1:], 0o755), testenv.Dir("etc", 0o755),
			testenv.Symlink("abs", outside), testenv.Symlink("rel", "../../../../../../../.."+outside),
			testenv.Symlink("hostetc", "/etc"),
		},
		{
			testenv.File("abs/pwned", "x"), testenv.File("rel/pwned", "x"), testenv.File("../../pwned-dotdot", "x"),
			testenv.File("hostetc/pwned", "x"), testenv.File("abs/secret", "overwrite?"), testenv.Whiteout("abs/.wh.secret"),
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
	img := imageOfEntries(t, []testenv.TarEntry{testenv.Hardlink("stolen", outside)})
	_, err := newCache(t).Get(context.Background(), img)
	if err == nil {
		t.Errorf("Get(hard link to %s) succeeded, want an error", outside)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(outside, &st); err != nil || st.Nlink != 1 {
		t.Errorf("links to the host file = %d, %v, want 1", st.Nlink, err)
	}
}

func TestUnpackEntries(t *testing.T) {
	root := unpackLayers(t,
		[]testenv.TarEntry{
			testenv.Dir("ro", 0o555), testenv.File("ro/f", "in a read-only dir"),
			testenv.Dir("locked", 0o000),
			testenv.Dir("tmp", 0o1777),
			testenv.FileMode("setuid", 0o4755), testenv.FileMode("sticky-free", 0o640),
			testenv.File("target", "shared"), testenv.Hardlink("hard", "target"),
			testenv.Special("fifo", tar.TypeFifo), testenv.Special("null", tar.TypeChar),
			testenv.File("was-file", "x"), testenv.Dir("was-dir", 0o755), testenv.File("was-dir/child", "y"),
			testenv.Symlink("dangling", "/nowhere"),
		},
		[]testenv.TarEntry{
			testenv.File("ro/g", "added by a later layer"),
			testenv.Dir("was-file", 0o755), testenv.File("was-dir", "now a file"),
		},
	)
	tests := []struct {
		name string
		want string
	}{
		{"ro", "dr-xr-xr-x"},
		{"ro/g", "-rw-r--r--"},
		{"locked", "d---------"},
		{"tmp", "dtrwxrwxrwx"},
		{"setuid", "-rwxr-xr-x"},
		{"sticky-free", "-rw-r-----"},
		{"fifo", "prw-rw-rw-"},
		{"was-file", "drwxr-xr-x"},
		{"was-dir", "-rw-r--r--"},
		{"dangling", "Lrwxrwxrwx"},
	}
	// Inside the user namespace no one may make device nodes, and the
	// sandbox mounts its own /dev: the unpack skips them.
	if _, err := os.Lstat(filepath.Join(root, "null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat(null) = %v, want %v", err, fs.ErrNotExist)
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

// TestUnpackDotDotWhiteout unpacks a stack whose layer whites out "..",
// which once removed the rootfs cache and every other stack in it: the
// unpack fails and the other stacks stay.
func TestUnpackDotDotWhiteout(t *testing.T) {
	c := newCache(t)
	other := unpackLayersIn(t, c, []testenv.TarEntry{testenv.File("etc/other", "other stack")})
	img := imageOfEntries(t, []testenv.TarEntry{testenv.File("etc/x", "x")}, []testenv.TarEntry{testenv.Whiteout(".wh..."), testenv.Whiteout("etc/.wh...")})
	if _, err := c.Get(context.Background(), img); !errors.Is(err, layers.ErrUnsafeEntry) {
		t.Errorf("Get(.wh... layer) = %v, want %v", err, layers.ErrUnsafeEntry)
	}
	if b, err := os.ReadFile(filepath.Join(other, "etc/other")); err != nil || string(b) != "other stack" {
		t.Errorf("other stack's etc/other = %q, %v, want it untouched", b, err)
	}
}

// unpackLayersIn is unpackLayers with the cache given.
func unpackLayersIn(t *testing.T, c *Cache, ls ...[]testenv.TarEntry) string {
	t.Helper()
	root, err := c.Get(context.Background(), imageOfEntries(t, ls...))
	if err != nil {
		t.Fatalf("Get() error: %v", err)
	}
	return root
}
