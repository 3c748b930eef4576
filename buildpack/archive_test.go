package buildpack

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnpackBuildpack(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		check   map[string]string // path in the result -> content ("" for "exists")
	}{
		{name: "bin at root", entries: buildpackEntries("", "1"), check: map[string]string{"VERSION": "1\n"}},
		{name: "single top directory stripped", entries: buildpackEntries("heroku-buildpack-go-1.0/", "1"), check: map[string]string{"VERSION": "1\n"}},
		{name: "dot prefix", entries: buildpackEntries("./", "1"), check: map[string]string{"VERSION": "1\n"}},
		{name: "git archive global header", entries: append([]entry{{name: "pax_global_header", typ: tar.TypeXGlobalHeader}}, buildpackEntries("bp/", "1")...), check: map[string]string{"VERSION": "1\n"}},
		{name: "missing parent directories", entries: []entry{{name: "bin/detect", typ: tar.TypeReg, mode: 0o755, body: "x"}, {name: "lib/a/b", typ: tar.TypeReg, mode: 0o644, body: "b"}}, check: map[string]string{"lib/a/b": "b"}},
		{name: "links inside", entries: append(buildpackEntries("", "1"),
			entry{name: "lib/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "lib/v", typ: tar.TypeSymlink, linkname: "../VERSION"},
			entry{name: "hard", typ: tar.TypeLink, linkname: "VERSION"},
			entry{name: "self", typ: tar.TypeSymlink, linkname: "lib/.."},
		), check: map[string]string{"lib/v": "1\n", "hard": "1\n", "self/VERSION": "1\n"}},
		{name: "repeated entry replaced", entries: append(buildpackEntries("", "1"), entry{name: "VERSION", typ: tar.TypeReg, mode: 0o644, body: "2\n"}), check: map[string]string{"VERSION": "2\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := unpackEntries(t, tt.entries)
			if dir == "" {
				t.Fatal("unpackBuildpack() failed")
			}
			for name, want := range tt.check {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v, want %q", name, got, err, want)
				}
			}
			if fi, err := os.Stat(filepath.Join(dir, "bin", "detect")); err != nil || fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("bin/detect = %v, %v, want executable", fi, err)
			}
		})
	}
}

func TestUnpackBuildpackRejects(t *testing.T) {
	tests := []struct {
		name    string
		entry   entry
		wantErr string
	}{
		{name: "absolute symlink", entry: entry{name: "etc", typ: tar.TypeSymlink, linkname: "/etc"}, wantErr: `symlink to "/etc" leaves the buildpack directory`},
		{name: "climbing symlink", entry: entry{name: "bin/up", typ: tar.TypeSymlink, linkname: "../../"}, wantErr: "leaves the buildpack directory"},
		// Confined to the archive's root, the target does not exist.
		{name: "climbing hard link", entry: entry{name: "h", typ: tar.TypeLink, linkname: "../../etc/passwd"}, wantErr: `unpacking "h"`},
		{name: "whiteout of the parent", entry: entry{name: ".wh...", typ: tar.TypeReg}, wantErr: "unsafe archive entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			path := filepath.Join(parent, "a.tgz")
			entries := append(buildpackEntries("", "1"), entry{name: "bin/x", typ: tar.TypeSymlink, linkname: "."}, tt.entry)
			writeTgz(t, path, entries)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dir := filepath.Join(parent, "out", "bp")
			os.Mkdir(filepath.Dir(dir), 0o755)
			err = unpackBuildpack(t.Context(), f, dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("unpackBuildpack() = %v, want error containing %q", err, tt.wantErr)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Errorf("unpackBuildpack() wrote outside its directory")
			}
			if leftovers, _ := os.ReadDir(filepath.Dir(dir)); len(leftovers) != 0 {
				t.Errorf("unpackBuildpack() left %v behind", leftovers)
			}
		})
	}
}

// TestUnpackBuildpackConfines checks entries that aim outside the archive
// but, resolved inside its root as every archive's are, land inside it;
// device nodes are skipped.
func TestUnpackBuildpackConfines(t *testing.T) {
	tests := []struct {
		name   string
		entry  entry
		inside string // where the entry lands in the buildpack, "" for nowhere
	}{
		{name: "dot dot", entry: entry{name: "../evil", typ: tar.TypeReg, mode: 0o644, body: "x"}, inside: "evil"},
		{name: "dot dot inside", entry: entry{name: "bin/../../evil", typ: tar.TypeReg, mode: 0o644, body: "x"}, inside: "evil"},
		{name: "absolute", entry: entry{name: "/tmp/evil", typ: tar.TypeReg, mode: 0o644, body: "x"}, inside: "tmp/evil"},
		{name: "through a symlink", entry: entry{name: "bin/x/y", typ: tar.TypeReg, mode: 0o644}, inside: "bin/y"},
		{name: "char device", entry: entry{name: "null", typ: tar.TypeChar}},
		{name: "block device", entry: entry{name: "sda", typ: tar.TypeBlock}},
		{name: "fifo", entry: entry{name: "pipe", typ: tar.TypeFifo, mode: 0o644}, inside: "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := append(buildpackEntries("", "1"), entry{name: "bin/x", typ: tar.TypeSymlink, linkname: "."}, tt.entry)
			dir := unpackEntries(t, entries)
			if dir == "" {
				t.Fatal("unpackBuildpack() failed")
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
				t.Errorf("unpackBuildpack() wrote outside its directory")
			}
			if tt.inside != "" {
				if _, err := os.Lstat(filepath.Join(dir, tt.inside)); err != nil {
					t.Errorf("Lstat(%s) = %v, want it inside the buildpack", tt.inside, err)
				}
				return
			}
			if _, err := os.Lstat(filepath.Join(dir, tt.entry.name)); err == nil {
				t.Errorf("unpackBuildpack() created %s, want it skipped", tt.entry.name)
			}
		})
	}
}

// TestUnpackSymlinkTricks checks that chains of symlinks, each harmless on
// its own, never leave a link or a file outside the buildpack: the archive
// is either rejected or every link resolves inside it.
func TestUnpackSymlinkTricks(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
	}{
		{name: "write through a link to the parent", entries: []entry{
			{name: "bin/detect", typ: tar.TypeReg, mode: 0o755},
			{name: "a", typ: tar.TypeSymlink, linkname: "."},
			{name: "a/b", typ: tar.TypeSymlink, linkname: ".."},
			{name: "a/b/evil", typ: tar.TypeReg, body: "x"},
		}},
		{name: "dot dot after a shallower link", entries: []entry{
			{name: "bin/detect", typ: tar.TypeReg, mode: 0o755},
			{name: "sub/", typ: tar.TypeDir, mode: 0o755},
			{name: "sub/l", typ: tar.TypeSymlink, linkname: ".."},
			{name: "sub/x", typ: tar.TypeSymlink, linkname: "l/../.."},
			{name: "sub/y", typ: tar.TypeSymlink, linkname: "l/.."},
		}},
		{name: "link out of the stripped top directory", entries: append(buildpackEntries("top/", "1"),
			entry{name: "top/up", typ: tar.TypeSymlink, linkname: ".."},
		)},
		{name: "directory replaced by a link", entries: []entry{
			{name: "bin/detect", typ: tar.TypeReg, mode: 0o755},
			{name: "d/", typ: tar.TypeDir, mode: 0o755},
			{name: "d", typ: tar.TypeSymlink, linkname: "."},
			{name: "d/../evil", typ: tar.TypeReg, body: "x"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := tryUnpack(t, tt.entries)
			if err != nil {
				return // rejected: fine
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
				t.Fatalf("unpackBuildpack() wrote outside its directory")
			}
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.Type()&fs.ModeSymlink == 0 {
					return err
				}
				if resolved, err := filepath.EvalSymlinks(p); err == nil && !within(dir, resolved) {
					t.Errorf("symlink %s resolves to %s, outside %s", p, resolved, dir)
				}
				return nil
			})
		})
	}
}

func unpackEntries(t *testing.T, entries []entry) string {
	t.Helper()
	dir, err := tryUnpack(t, entries)
	if err != nil {
		t.Errorf("unpackBuildpack() error = %v", err)
		return ""
	}
	return dir
}

// tryUnpack writes entries as a .tgz and unpacks it into the directory bp
// beside it, returning that directory.
func tryUnpack(t *testing.T, entries []entry) (string, error) {
	t.Helper()
	parent := t.TempDir()
	path := filepath.Join(parent, "a.tgz")
	writeTgz(t, path, entries)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := filepath.Join(parent, "bp")
	return dir, unpackBuildpack(t.Context(), f, dir)
}
