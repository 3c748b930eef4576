package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paas-dev/paas/fsutil"
)

// tarEntry is a hand-made tar entry; zero fields get usable defaults.
type tarEntry struct {
	name string
	typ  byte
	mode int64
	body string
	link string
	// major and minor number device nodes.
	major, minor int64
	uid, gid     int
}

// dirE, fileE, linkE and hardE abbreviate the common tarEntry kinds.
func dirE(name string) tarEntry        { return tarEntry{name: name, typ: tar.TypeDir} }
func fileE(name, body string) tarEntry { return tarEntry{name: name, body: body} }
func linkE(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, link: target}
}
func hardE(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeLink, link: target}
}

// makeTar writes entries verbatim, names and all, into an uncompressed tar.
func makeTar(t testing.TB, es ...tarEntry) []byte {
	t.Helper()
	b, err := tarOf(es...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarOf is makeTar for archives built outside a test, as fuzz seeds are.
func tarOf(es ...tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{
			Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Devmajor: e.major, Devminor: e.minor,
			ModTime: DefaultEpoch, Format: tar.FormatPAX, Uid: e.uid, Gid: e.gid,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// listing describes the tree under dir as sorted lines: "d/" for
// directories, "f=body" for files, "l->target" for symlinks.
func listing(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out = append(out, rel+"/")
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		default:
			out = append(out, rel+" "+d.Type().String())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	sort.Strings(out)
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			src := t.TempDir()
			makeTree(t, src, sampleTree, false, DefaultEpoch)
			l, err := FromDir(src, WithCompression(c), WithTempDir(t.TempDir()))
			if err != nil {
				t.Fatalf("FromDir() = %v", err)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			// Unpack drops set-ID bits, so the source is compared without.
			if err := os.Chmod(filepath.Join(src, "bin/suid"), 0o755); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "out")
			if err := Unpack(rc, dst); err != nil {
				t.Fatalf("Unpack() = %v", err)
			}
			if diffs := diffSnapshots(snapshot(t, dst), snapshot(t, src)); len(diffs) > 0 {
				t.Errorf("Unpack(FromDir()) differs from the source:\n%s", strings.Join(diffs, "\n"))
			}
			if err := fsutil.RemoveAll(dst); err != nil {
				t.Errorf("fsutil.RemoveAll() = %v", err)
			}
			if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after fsutil.RemoveAll(), Lstat() = %v, want %v", err, fs.ErrNotExist)
			}
		})
	}
}

func TestUnpackLayers(t *testing.T) {
	lowerTree := []tarEntry{
		dirE("a/"), fileE("a/x", "1"), fileE("a/y", "2"),
		dirE("a/sub/"), fileE("a/sub/z", "3"),
		dirE("usr/"), dirE("usr/lib/"), linkE("lib", "usr/lib"),
		dirE("real/"), linkE("abs", "/real"),
		fileE("f", "file"), dirE("d/"), fileE("d/x", "in d"),
	}
	lowerListing := []string{
		"a/", "a/sub/", "a/sub/z=3", "a/x=1", "a/y=2", "abs->/real", "d/", "d/x=in d", "f=file",
		"lib->usr/lib", "real/", "usr/", "usr/lib/",
	}
	tests := []struct {
		name  string
		upper []tarEntry
		want  []string // changes to lowerListing: "-x" removes x, "+x" adds x
	}{
		{name: "whiteout file", upper: []tarEntry{fileE("a/.wh.x", "")}, want: []string{"-a/x=1"}},
		{name: "whiteout dir", upper: []tarEntry{fileE("a/.wh.sub", "")}, want: []string{"-a/sub/", "-a/sub/z=3"}},
		{
			name:  "opaque before siblings",
			upper: []tarEntry{dirE("a/"), fileE("a/.wh..wh..opq", ""), fileE("a/new", "n")},
			want:  []string{"-a/x=1", "-a/y=2", "-a/sub/", "-a/sub/z=3", "+a/new=n"},
		},
		{
			name:  "opaque after siblings",
			upper: []tarEntry{dirE("a/"), fileE("a/new", "n"), dirE("a/sub/"), fileE("a/sub/w", "4"), fileE("a/.wh..wh..opq", "")},
			want:  []string{"-a/x=1", "-a/y=2", "-a/sub/z=3", "+a/new=n", "+a/sub/w=4"},
		},
		{name: "whiteout of nothing", upper: []tarEntry{fileE(".wh.nothing", ""), fileE("nope/.wh.x", "")}},
		{name: "later file wins", upper: []tarEntry{fileE("a/x", "new")}, want: []string{"-a/x=1", "+a/x=new"}},
		{name: "file replaces dir", upper: []tarEntry{fileE("d", "now a file")}, want: []string{"-d/", "-d/x=in d", "+d=now a file"}},
		{name: "dir replaces file", upper: []tarEntry{dirE("f/"), fileE("f/x", "x")}, want: []string{"-f=file", "+f/", "+f/x=x"}},
		{name: "file replaces symlink", upper: []tarEntry{fileE("abs", "plain")}, want: []string{"-abs->/real", "+abs=plain"}},
		{name: "dir kept with contents", upper: []tarEntry{dirE("a/")}},
		{name: "through relative symlink", upper: []tarEntry{fileE("lib/libc.so", "c")}, want: []string{"+usr/lib/libc.so=c"}},
		{name: "through absolute symlink", upper: []tarEntry{fileE("abs/f", "r")}, want: []string{"+real/f=r"}},
		{name: "implicit parents", upper: []tarEntry{fileE("new/deeper/f", "f")}, want: []string{"+new/", "+new/deeper/", "+new/deeper/f=f"}},
		{name: "hard link", upper: []tarEntry{fileE("h1", "same"), hardE("h2", "h1")}, want: []string{"+h1=same", "+h2=same"}},
		{name: "hard link to lower file", upper: []tarEntry{hardE("h", "/a/y")}, want: []string{"+h=2"}},
		{name: "symlink kept verbatim", upper: []tarEntry{linkE("pw", "/etc/passwd")}, want: []string{"+pw->/etc/passwd"}},
		{name: "dot slash names", upper: []tarEntry{dirE("./"), fileE("./a/./x", "dot")}, want: []string{"-a/x=1", "+a/x=dot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, layer := range [][]tarEntry{lowerTree, tt.upper} {
				if err := Unpack(bytes.NewReader(makeTar(t, layer...)), dir); err != nil {
					t.Fatalf("Unpack() = %v", err)
				}
			}
			want := applyChanges(lowerListing, tt.want)
			if got := listing(t, dir); !reflect.DeepEqual(got, want) {
				t.Errorf("Unpack() gave\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// applyChanges applies "-line" and "+line" changes to a sorted listing.
func applyChanges(base, changes []string) []string {
	set := map[string]bool{}
	for _, l := range base {
		set[l] = true
	}
	for _, c := range changes {
		set[c[1:]] = c[0] == '+'
	}
	var out []string
	for l, ok := range set {
		if ok {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func TestUnpackHardLinkSharesInode(t *testing.T) {
	dir := t.TempDir()
	if err := Unpack(bytes.NewReader(makeTar(t, fileE("a", "x"), dirE("d/"), hardE("d/b", "a"))), dir); err != nil {
		t.Fatalf("Unpack() = %v", err)
	}
	a, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(filepath.Join(dir, "d/b"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Errorf("Unpack() made a and d/b different files, want one inode")
	}
}

func TestUnpackModesAndTimes(t *testing.T) {
	mtime := time.Date(2020, 2, 2, 2, 2, 2, 0, time.UTC)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o555, ModTime: mtime},
		{Name: "ro/sticky/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mtime},
		{Name: "ro/suid", Typeflag: tar.TypeReg, Mode: 0o4755, ModTime: mtime},
		{Name: "ro/link", Typeflag: tar.TypeSymlink, Linkname: "suid", ModTime: mtime},
		{Name: "noperm/", Typeflag: tar.TypeDir, Mode: 0o000, ModTime: mtime},
		{Name: "noperm/f", Typeflag: tar.TypeReg, Mode: 0o000, ModTime: mtime},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	dir := t.TempDir()
	if err := Unpack(&buf, dir); err != nil {
		t.Fatalf("Unpack() = %v", err)
	}
	want := map[string]fs.FileMode{
		"ro":        fs.ModeDir | 0o555,
		"ro/sticky": fs.ModeDir | fs.ModeSticky | 0o777,
		"ro/suid":   0o755, // set-ID bits dropped
		"ro/link":   fs.ModeSymlink | 0o777,
		"noperm":    fs.ModeDir | 0o500, // owner r+x kept so the tree stays traversable
		"noperm/f":  0,
	}
	for name, mode := range want {
		info, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("Lstat(%s) = %v", name, err)
			continue
		}
		if info.Mode() != mode {
			t.Errorf("mode of %s = %v, want %v", name, info.Mode(), mode)
		}
		if !info.ModTime().Equal(mtime) {
			t.Errorf("mtime of %s = %v, want %v", name, info.ModTime(), mtime)
		}
		if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Errorf("owner of %s = %d, want the caller %d", name, st.Uid, os.Getuid())
		}
	}
	if err := fsutil.RemoveAll(dir); err != nil {
		t.Errorf("fsutil.RemoveAll() = %v", err)
	}
}
