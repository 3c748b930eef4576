package buildpack

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeBuildpack creates a minimal classic buildpack in dir whose
// bin/detect prints version, so tests can tell fetched revisions apart.
func writeBuildpack(t *testing.T, dir, version string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "bin", "detect"), "#!/bin/sh\necho "+version+"\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "compile"), "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "release"), "#!/bin/sh\necho '--- {}'\n", 0o755)
	writeFile(t, filepath.Join(dir, "VERSION"), version+"\n", 0o644)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// version reads the VERSION file of a fetched buildpack.
func version(t *testing.T, bp *Buildpack) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bp.Dir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// entry is one tar entry written by writeTgz.
type entry struct {
	name     string
	typ      byte
	mode     int64
	body     string
	linkname string
}

// buildpackEntries is a valid buildpack under prefix (e.g. "bp-1.0/").
func buildpackEntries(prefix, version string) []entry {
	return []entry{
		{name: prefix, typ: tar.TypeDir, mode: 0o755},
		{name: prefix + "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: prefix + "bin/detect", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\necho " + version + "\n"},
		{name: prefix + "bin/compile", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\nexit 0\n"},
		{name: prefix + "VERSION", typ: tar.TypeReg, mode: 0o644, body: version + "\n"},
	}
}

// writeTgz writes entries as a gzipped tar to path and returns the file's
// "sha256:" digest.
func writeTgz(t *testing.T, path string, entries []entry) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.linkname}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil && e.typ == tar.TypeReg {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, zw, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// gitCmd runs git in dir with a fixed identity and no user or system
// configuration, and returns its trimmed output.
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=paas test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitBuildpack writes a buildpack of the given version into the work
// tree at dir, commits it and returns the commit sha.
func commitBuildpack(t *testing.T, dir, version string) string {
	t.Helper()
	writeBuildpack(t, dir, version)
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "--quiet", "-m", "version "+version)
	return gitCmd(t, dir, "rev-parse", "HEAD")
}

// newRepo makes a git repository in a directory named bp.git and returns
// its path.
func newRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bp.git")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, dir, "init", "--quiet")
	return dir
}
