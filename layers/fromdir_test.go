package layers

import (
	"archive/tar"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/paas-dev/paas/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestFromDirDeterministic(t *testing.T) {
	uid, gid := testenv.Unprivileged(t)
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			a := filepath.Join(t.TempDir(), "first")
			b := filepath.Join(t.TempDir(), "elsewhere", "second")
			makeTree(t, a, sampleTree, false, time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC))
			makeTree(t, b, sampleTree, true, time.Now())
			chownTree(t, b, uid, gid)
			la, err := FromDir(a, WithCompression(c), WithTempDir(t.TempDir()))
			if err != nil {
				t.Fatalf("FromDir(%s) = %v", a, err)
			}
			lb, err := FromDir(b, WithCompression(c), WithTempDir(t.TempDir()))
			if err != nil {
				t.Fatalf("FromDir(%s) = %v", b, err)
			}
			da, ia := mustDigests(t, la)
			db, ib := mustDigests(t, lb)
			if da != db || ia != ib {
				t.Errorf("FromDir() of equal trees = (%v, %v) and (%v, %v), want equal", da, ia, db, ib)
			}
			checkLayer(t, la)
		})
	}
}

// chownTree changes the owner of everything under dir, keeping the setuid
// and setgid bits that chown clears.
func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil || info.Mode()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chmod(p, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFromDirEntries(t *testing.T) {
	tree := []treeFile{
		{path: ".git", mode: fs.ModeDir | 0o755},
		{path: ".git/HEAD", mode: 0o644, body: "ref"},
		{path: "a.log", mode: 0o644, body: "log"},
		{path: "bin", mode: fs.ModeDir | 0o750},
		{path: "bin/tool", mode: 0o755, body: "tool"},
		{path: "bin/tool2", hardlink: "bin/tool"},
		{path: "passwd", mode: fs.ModeSymlink, link: "/etc/passwd"},
		{path: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{path: "tool3", hardlink: "bin/tool"},
		{path: "x", mode: fs.ModeSetuid | fs.ModeSetgid | 0o700, body: "x"},
	}
	all := []entry{
		{Name: ".git/", Type: tar.TypeDir, Mode: 0o755},
		{Name: ".git/HEAD", Type: tar.TypeReg, Mode: 0o644, Size: 3},
		{Name: "a.log", Type: tar.TypeReg, Mode: 0o644, Size: 3},
		{Name: "bin/", Type: tar.TypeDir, Mode: 0o750},
		{Name: "bin/tool", Type: tar.TypeReg, Mode: 0o755, Size: 4},
		{Name: "bin/tool2", Type: tar.TypeLink, Mode: 0o755, Linkname: "bin/tool"},
		{Name: "passwd", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/etc/passwd"},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "tool3", Type: tar.TypeLink, Mode: 0o755, Linkname: "bin/tool"},
		{Name: "x", Type: tar.TypeReg, Mode: 0o6700, Size: 1},
	}
	tests := []struct {
		name string
		opts []Option
		want []entry
	}{
		{name: "defaults", want: all},
		{
			name: "prefix",
			opts: []Option{WithPrefix("workspace/app")},
			want: append([]entry{
				{Name: "workspace/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "workspace/app/", Type: tar.TypeDir, Mode: 0o711},
			}, prefixed("workspace/app/", all)...),
		},
		{
			name: "exclude",
			opts: []Option{WithExclude(func(rel string, isDir bool) bool {
				return (rel == ".git" && isDir) || strings.HasSuffix(rel, ".log") || rel == "bin/tool"
			})},
			// bin/tool is left out, so the next name of its inode carries
			// the content.
			want: []entry{
				{Name: "bin/", Type: tar.TypeDir, Mode: 0o750},
				{Name: "bin/tool2", Type: tar.TypeReg, Mode: 0o755, Size: 4},
				{Name: "passwd", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/etc/passwd"},
				{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
				{Name: "tool3", Type: tar.TypeLink, Mode: 0o755, Linkname: "bin/tool2"},
				{Name: "x", Type: tar.TypeReg, Mode: 0o6700, Size: 1},
			},
		},
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	makeTree(t, dir, tree, false, time.Now())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := FromDir(dir, append(tt.opts, WithTempDir(t.TempDir()))...)
			if err != nil {
				t.Fatalf("FromDir() = %v", err)
			}
			got := entries(readLayer(t, l))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromDir() entries =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func prefixed(p string, es []entry) []entry {
	var out []entry
	for _, e := range es {
		e.Name = p + e.Name
		if e.Type == tar.TypeLink {
			e.Linkname = p + e.Linkname
		}
		out = append(out, e)
	}
	return out
}

func TestFromDirNormalizesHeaders(t *testing.T) {
	epoch := time.Date(2024, 5, 6, 7, 8, 9, 500, time.FixedZone("X", 3600))
	tests := []struct {
		name      string
		opts      []Option
		uid, gid  int
		wantMTime time.Time
	}{
		{name: "defaults", wantMTime: DefaultEpoch},
		{name: "owner and epoch", opts: []Option{WithOwner(1000, 1001), WithEpoch(epoch)}, uid: 1000, gid: 1001, wantMTime: epoch.Truncate(time.Second)},
	}
	dir := t.TempDir()
	makeTree(t, dir, sampleTree, false, time.Now())
	long := filepath.Join(dir, strings.Repeat("d", 120))
	if err := os.WriteFile(long, []byte("long name"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := FromDir(dir, append(tt.opts, WithTempDir(t.TempDir()))...)
			if err != nil {
				t.Fatalf("FromDir() = %v", err)
			}
			for _, h := range readLayer(t, l) {
				if h.Uid != tt.uid || h.Gid != tt.gid || h.Uname != "" || h.Gname != "" {
					t.Errorf("%s owner = %d:%d (%q:%q), want %d:%d with blank names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, tt.uid, tt.gid)
				}
				if !h.ModTime.Equal(tt.wantMTime) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
					t.Errorf("%s times = %v %v %v, want mtime %v only", h.Name, h.ModTime, h.AccessTime, h.ChangeTime, tt.wantMTime)
				}
				if h.Format != tar.FormatUSTAR && h.Format != tar.FormatPAX {
					t.Errorf("%s format = %v, want USTAR or PAX", h.Name, h.Format)
				}
			}
		})
	}
}

func TestFromDirSkipsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "run.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.WriteFile(filepath.Join(dir, "kept"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	l, err := FromDir(dir, WithPrefix("app"), WithTempDir(t.TempDir()), WithWarn(func(msg string) {
		warnings = append(warnings, msg)
	}))
	if err != nil {
		t.Fatalf("FromDir() = %v", err)
	}
	wantWarnings := []string{"skipping fifo app/pipe", "skipping socket app/run.sock"}
	if !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("FromDir() warnings = %q, want %q", warnings, wantWarnings)
	}
	var names []string
	for _, h := range readLayer(t, l) {
		names = append(names, h.Name)
	}
	if want := []string{"app/", "app/kept"}; !reflect.DeepEqual(names, want) {
		t.Errorf("FromDir() entries = %q, want %q", names, want)
	}
}

func TestFromDirCompression(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want types.MediaType
	}{
		{name: "default", want: types.OCILayer},
		{name: "gzip", opts: []Option{WithCompression(Gzip)}, want: types.OCILayer},
		{name: "zstd", opts: []Option{WithCompression(Zstd)}, want: types.OCILayerZStd},
	}
	dir := t.TempDir()
	makeTree(t, dir, sampleTree, false, time.Now())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := FromDir(dir, append(tt.opts, WithTempDir(t.TempDir()))...)
			if err != nil {
				t.Fatalf("FromDir() = %v", err)
			}
			if got, _ := l.MediaType(); got != tt.want {
				t.Errorf("MediaType() = %v, want %v", got, tt.want)
			}
			checkLayer(t, l)
		})
	}
}

func TestFromDirErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		opts []Option
		want error
	}{
		{name: "missing dir", dir: filepath.Join(file, "..", "nope"), want: fs.ErrNotExist},
		{name: "not a dir", dir: file, want: unix.ENOTDIR},
		{name: "bad compression", dir: t.TempDir(), opts: []Option{WithCompression("lz4")}, want: ErrInvalidOption},
		{name: "bad prefix", dir: t.TempDir(), opts: []Option{WithPrefix("a/../b")}, want: ErrInvalidOption},
		{name: "bad owner", dir: t.TempDir(), opts: []Option{WithOwner(-1, 0)}, want: ErrInvalidOption},
		{name: "missing temp dir", dir: t.TempDir(), opts: []Option{WithTempDir(file + "/x")}, want: unix.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromDir(tt.dir, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Errorf("FromDir() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFromDirFileChanged(t *testing.T) {
	dir := t.TempDir()
	grows := filepath.Join(dir, "grows")
	if err := os.WriteFile(grows, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// The exclude hook runs after the file was stat'ed and before it is
	// read: the moment a concurrent writer could append to it.
	_, err := FromDir(dir, WithTempDir(tmp), WithExclude(func(rel string, _ bool) bool {
		if err := os.WriteFile(grows, []byte("much longer now"), 0o644); err != nil {
			t.Fatal(err)
		}
		return false
	}))
	if !errors.Is(err, ErrChanged) {
		t.Errorf("FromDir() = %v, want %v", err, ErrChanged)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("FromDir() left %d files in the temp dir after failing, want 0", len(left))
	}
}
