package layers

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// treeFile describes one file of a test tree. Hardlink names an earlier
// regular file to link to.
type treeFile struct {
	path     string
	mode     fs.FileMode
	body     string
	link     string
	hardlink string
}

// sampleTree exercises every kind of entry a layer can hold.
var sampleTree = []treeFile{
	{path: "bin", mode: fs.ModeDir | 0o755},
	{path: "bin/run", mode: 0o755, body: "#!/bin/sh\necho hi\n"},
	{path: "bin/run-again", hardlink: "bin/run"},
	{path: "bin/suid", mode: fs.ModeSetuid | fs.ModeSetgid | 0o755, body: "suid"},
	{path: "empty", mode: 0o600},
	{path: "etc-link", mode: fs.ModeSymlink, link: "/etc/passwd"},
	{path: "ro", mode: fs.ModeDir | 0o555},
	{path: "ro/inside", mode: 0o444, body: "read only"},
	{path: "ro/deeper", mode: fs.ModeDir | 0o500},
	{path: "ro/deeper/x", mode: 0o644, body: "x"},
	{path: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
	{path: "up", mode: fs.ModeSymlink, link: "../../outside"},
	{path: "z-last", mode: 0o644, body: strings.Repeat("zzz", 5000)},
}

// makeTree creates files under dir in the given order (or reversed), with
// arbitrary mtimes; directory modes are applied last so read-only
// directories can be filled.
func makeTree(t testing.TB, dir string, files []treeFile, reverse bool, mtime time.Time) {
	t.Helper()
	order := append([]treeFile(nil), files...)
	if reverse {
		sort.Slice(order, func(i, j int) bool { return order[i].path > order[j].path })
	}
	// Hard links come last: their targets must exist.
	sort.SliceStable(order, func(i, j int) bool { return order[i].hardlink == "" && order[j].hardlink != "" })
	for _, f := range order {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := createFile(p, dir, f); err != nil {
			t.Fatalf("creating %s: %v", f.path, err)
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if f.mode&fs.ModeSymlink == 0 && f.hardlink == "" {
			if err := os.Chmod(p, f.mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				t.Fatal(err)
			}
		}
	}
	touchTree(t, dir, mtime)
	// The tree has read-only directories, which the testing package's
	// cleanup of t.TempDir cannot remove unless the caller is root.
	t.Cleanup(func() {
		if err := fsutil.RemoveAll(dir); err != nil {
			t.Errorf("fsutil.RemoveAll(%s) = %v", dir, err)
		}
	})
}

func createFile(p, dir string, f treeFile) error {
	switch {
	case f.hardlink != "":
		return os.Link(filepath.Join(dir, f.hardlink), p)
	case f.mode.IsDir():
		return os.MkdirAll(p, 0o755)
	case f.mode&fs.ModeSymlink != 0:
		return os.Symlink(f.link, p)
	}
	return os.WriteFile(p, []byte(f.body), 0o644)
}

// touchTree sets the mtime of everything under dir (not following links).
func touchTree(t testing.TB, dir string, mtime time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ts := unix.NsecToTimespec(mtime.UnixNano())
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every entry under dir (not dir itself) in one line:
// type, mode, content hash or link target, mtime, and for hard links the
// first path of the same inode.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	return snapshotOutside(t, dir, "")
}

// snapshotOutside is snapshot leaving out dir's child skip and everything
// under it, so a test can watch what surrounds a directory it unpacks into
// without reading what was unpacked (which may be huge sparse files).
func snapshotOutside(t testing.TB, dir, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if skip != "" && rel == skip {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = describe(p, info, inodes, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return out
}

func describe(p string, info fs.FileInfo, inodes map[uint64]string, rel string) string {
	st := info.Sys().(*syscall.Stat_t)
	desc := fmt.Sprintf("%v mtime=%d", info.Mode(), info.ModTime().Unix())
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, _ := os.Readlink(p)
		return desc + " -> " + target
	case info.Mode().IsRegular():
		sum := fileSum(p)
		if first, ok := inodes[st.Ino]; ok && st.Nlink > 1 {
			return desc + " " + sum + " same-inode-as=" + first
		}
		inodes[st.Ino] = rel
		return desc + " " + sum
	}
	return desc
}

func fileSum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// diffSnapshots lists the differences between two snapshots.
func diffSnapshots(got, want map[string]string) []string {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing, want %q", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %q, want %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %q", k, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// entry is the part of a tar header the tests compare.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	Linkname string
	Size     int64
}

func (e entry) String() string {
	return fmt.Sprintf("%s %c %#o %q %d", e.Name, e.Type, e.Mode, e.Linkname, e.Size)
}

// readLayer returns the headers of a layer's uncompressed tar.
func readLayer(t testing.TB, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatalf("Uncompressed() = %v", err)
	}
	defer rc.Close()
	var hdrs []*tar.Header
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs
		}
		if err != nil {
			t.Fatalf("reading layer tar: %v", err)
		}
		hdrs = append(hdrs, h)
	}
}

func entries(hdrs []*tar.Header) []entry {
	var es []entry
	for _, h := range hdrs {
		es = append(es, entry{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, Linkname: h.Linkname, Size: h.Size})
	}
	return es
}

// checkLayer validates a layer's hashes and size against its streams. ggcr's
// validate.Layer assumes gzip, so zstd layers are checked by hand.
func checkLayer(t testing.TB, l v1.Layer) {
	t.Helper()
	mt, err := l.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if mt == types.OCILayer {
		if err := validate.Layer(l); err != nil {
			t.Errorf("validate.Layer() = %v", err)
		}
		return
	}
	want := map[string]v1.Hash{}
	want["digest"], _ = l.Digest()
	want["diffid"], _ = l.DiffID()
	size, _ := l.Size()
	for name, open := range map[string]func() (io.ReadCloser, error){"digest": l.Compressed, "diffid": l.Uncompressed} {
		rc, err := open()
		if err != nil {
			t.Fatalf("opening %s stream: %v", name, err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if h != want[name] {
			t.Errorf("sha256 of %s stream = %v, want %v", name, h, want[name])
		}
		if name == "digest" && n != size {
			t.Errorf("Size() = %d, want %d", size, n)
		}
	}
}

func mustDigests(t testing.TB, l v1.Layer) (digest, diffID v1.Hash) {
	t.Helper()
	digest, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	diffID, err = l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return digest, diffID
}
