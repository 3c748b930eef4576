package buildpack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestFetchLocalDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "heroku-buildpack-test")
	writeBuildpack(t, dir, "1")
	t.Chdir(parent)
	tests := []struct {
		name string
		ref  string
	}{
		{name: "absolute", ref: dir},
		{name: "relative", ref: "./heroku-buildpack-test"},
		{name: "relative without dot", ref: "heroku-buildpack-test/"},
		{name: "file URL", ref: "file://" + dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp, err := Fetch(context.Background(), tt.ref, Options{})
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			want := Buildpack{Ref: tt.ref, Dir: dir, Name: "heroku-buildpack-test"}
			if *bp != want {
				t.Errorf("Fetch() = %+v, want %+v", *bp, want)
			}
		})
	}
}

// A builtin buildpack's name gives a copy of it; a path to a directory of
// that name gives the directory.
func TestFetchBuiltin(t *testing.T) {
	parent := t.TempDir()
	builtinDir, localDir := filepath.Join(parent, "builtin", "go"), filepath.Join(parent, "go")
	writeBuildpack(t, builtinDir, "builtin")
	writeBuildpack(t, localDir, "local")
	t.Chdir(parent)
	builtin := &Buildpack{Ref: "go", Name: "go", Dir: builtinDir, Resolved: "builtin@sha256:1234"}
	opts := Options{Builtins: []*Buildpack{builtin}}

	bp := mustFetch(t, "go", opts)
	if *bp != *builtin || bp == builtin {
		t.Errorf("Fetch(go) = %+v, want a copy of %+v", *bp, *builtin)
	}
	if bp := mustFetch(t, "./go", opts); bp.Dir != localDir || version(t, bp) != "local" {
		t.Errorf("Fetch(./go) = %+v, want the directory %s", *bp, localDir)
	}
}

func TestFetchArchiveFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heroku-buildpack-test.tar.gz")
	digest := writeTgz(t, path, buildpackEntries("heroku-buildpack-test-1.0/", "1"))
	var log bytes.Buffer
	opts := Options{CacheDir: t.TempDir(), Log: &log}

	bp := mustFetch(t, path, opts)
	if bp.Resolved != digest || bp.Name != "heroku-buildpack-test" || version(t, bp) != "1" {
		t.Errorf("Fetch() = %+v (version %s), want Resolved %s, Name heroku-buildpack-test, version 1", *bp, version(t, bp), digest)
	}
	if again := mustFetch(t, path, opts); again.Dir != bp.Dir || !strings.Contains(log.String(), "Using cached buildpack") {
		t.Errorf("second Fetch() = %+v, log %q, want the cached %s", *again, log.String(), bp.Dir)
	}

	// The same file name with new content must not be served from the cache.
	digest2 := writeTgz(t, path, buildpackEntries("", "2"))
	bp2 := mustFetch(t, path, opts)
	if bp2.Resolved != digest2 || version(t, bp2) != "2" {
		t.Errorf("Fetch() after change = %+v (version %s), want Resolved %s, version 2", *bp2, version(t, bp2), digest2)
	}
}

func TestFetchArchiveURL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bp.tgz")
	digest := writeTgz(t, path, buildpackEntries("bp/", "1"))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeFile(w, r, path)
	}))
	defer srv.Close()
	ref := srv.URL + "/buildpacks/heroku-buildpack-test.tgz"
	opts := Options{CacheDir: t.TempDir()}

	bp := mustFetch(t, ref, opts)
	want := Buildpack{Ref: ref, Dir: bp.Dir, Name: "heroku-buildpack-test", Resolved: digest}
	if *bp != want || version(t, bp) != "1" {
		t.Errorf("Fetch() = %+v, want %+v", *bp, want)
	}
	opts.Pull = true // archives are pins: even Pull reuses them
	if again := mustFetch(t, ref, opts); *again != want {
		t.Errorf("second Fetch() = %+v, want %+v", *again, want)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("server got %d requests, want 1 (second Fetch from cache)", n)
	}
}

func TestFetchConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bp.tgz")
	writeTgz(t, path, buildpackEntries("", "1"))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeFile(w, r, path)
	}))
	defer srv.Close()
	opts := Options{CacheDir: t.TempDir()}

	const n = 4
	results := make([]*Buildpack, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = Fetch(context.Background(), srv.URL+"/bp.tgz", opts) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Fetch() #%d error = %v", i, errs[i])
		}
		if *results[i] != *results[0] {
			t.Errorf("Fetch() #%d = %+v, want %+v", i, *results[i], *results[0])
		}
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("server got %d requests, want 1", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*"+tmpInfix+"*"))
	if len(leftovers) != 0 {
		t.Errorf("cache has leftovers %v, want none", leftovers)
	}
}

func TestFetchGit(t *testing.T) {
	repo := newRepo(t)
	first := commitBuildpack(t, repo, "1")
	gitCmd(t, repo, "tag", "v1")
	gitCmd(t, repo, "checkout", "--quiet", "-b", "next")
	second := commitBuildpack(t, repo, "2")
	gitCmd(t, repo, "checkout", "--quiet", "main")
	url := "file://" + repo
	tests := []struct {
		name    string
		ref     string
		want    string
		version string
	}{
		{name: "default branch", ref: url, want: first, version: "1"},
		{name: "branch", ref: url + "#next", want: second, version: "2"},
		{name: "tag", ref: url + "#v1", want: first, version: "1"},
		{name: "full sha", ref: url + "#" + second, want: second, version: "2"},
		{name: "short sha", ref: url + "#" + second[:8], want: second, version: "2"},
		{name: "plain path with ref", ref: repo + "#next", want: second, version: "2"},
	}
	opts := Options{CacheDir: t.TempDir()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := mustFetch(t, tt.ref, opts)
			if bp.Resolved != tt.want || bp.Name != "bp" || version(t, bp) != tt.version {
				t.Errorf("Fetch() = %+v (version %s), want Resolved %s, Name bp, version %s", *bp, version(t, bp), tt.want, tt.version)
			}
			if _, err := os.Stat(filepath.Join(bp.Dir, ".git")); err == nil {
				t.Errorf("Fetch() left .git in %s, want it removed", bp.Dir)
			}
		})
	}
}

func TestFetchGitPull(t *testing.T) {
	repo := newRepo(t)
	first := commitBuildpack(t, repo, "1")
	ref := "file://" + repo + "#main"
	pinned := "file://" + repo + "#" + first
	opts := Options{CacheDir: t.TempDir()}
	mustFetch(t, ref, opts)
	mustFetch(t, pinned, opts)

	second := commitBuildpack(t, repo, "2")
	tests := []struct {
		name string
		ref  string
		pull bool
		want string
	}{
		{name: "branch without pull keeps the cached commit", ref: ref, want: first},
		{name: "branch with pull fetches the new commit", ref: ref, pull: true, want: second},
		{name: "branch after pull stays on the new commit", ref: ref, want: second},
		{name: "full sha with pull uses the cache", ref: pinned, pull: true, want: first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts.Pull = tt.pull
			if bp := mustFetch(t, tt.ref, opts); bp.Resolved != tt.want {
				t.Errorf("Fetch() Resolved = %s, want %s", bp.Resolved, tt.want)
			}
		})
	}
	// The pinned fetch must not have needed the repository at all.
	if err := os.RemoveAll(repo); err != nil {
		t.Fatal(err)
	}
	opts.Pull = true
	if bp := mustFetch(t, pinned, opts); bp.Resolved != first {
		t.Errorf("Fetch(pinned) without the remote Resolved = %s, want %s", bp.Resolved, first)
	}
}

func TestFetchErrors(t *testing.T) {
	repo := newRepo(t)
	commitBuildpack(t, repo, "1")
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	closed := testenv.ClosedAddr(t)
	dir := t.TempDir()

	noCompile := filepath.Join(dir, "no-compile")
	writeBuildpack(t, noCompile, "1")
	os.Remove(filepath.Join(noCompile, "bin", "compile"))
	noExec := filepath.Join(dir, "no-exec")
	writeBuildpack(t, noExec, "1")
	os.Chmod(filepath.Join(noExec, "bin", "detect"), 0o644)
	noBin := filepath.Join(dir, "no-bin.tgz")
	writeTgz(t, noBin, []entry{{name: "README", typ: tar.TypeReg, mode: 0o644, body: "hi"}})
	// "../" names are confined to the archive; a link out of it is refused.
	traversal := filepath.Join(dir, "traversal.tgz")
	writeTgz(t, traversal, append(buildpackEntries("", "1"), entry{name: "etc", typ: tar.TypeSymlink, linkname: "../../etc"}))
	notGzip := filepath.Join(dir, "plain.tgz")
	writeFile(t, notGzip, "not an archive", 0o644)

	tests := []struct {
		name    string
		ref     string
		want    error
		wantMsg string
	}{
		{name: "unknown git ref", ref: "file://" + repo + "#nope", want: ErrFetch, wantMsg: `no branch, tag or commit "nope"`},
		{name: "missing git repo", ref: "file://" + dir + "/missing.git", want: ErrFetch, wantMsg: "git clone"},
		{name: "HTTP 404", ref: srv.URL + "/bp.tgz", want: ErrFetch, wantMsg: "404 Not Found"},
		{name: "connection refused", ref: "http://" + closed + "/bp.tgz", want: ErrFetch, wantMsg: "connection refused"},
		{name: "missing local dir", ref: filepath.Join(dir, "missing"), want: ErrFetch, wantMsg: "no such directory"},
		{name: "missing archive file", ref: filepath.Join(dir, "missing.tgz"), want: ErrFetch, wantMsg: "no such file"},
		{name: "missing bin/compile", ref: noCompile, want: ErrInvalid, wantMsg: "bin/compile is missing"},
		{name: "non-executable bin/detect", ref: noExec, want: ErrInvalid, wantMsg: "bin/detect is not executable (chmod +x bin/detect)"},
		{name: "archive without bin/detect", ref: noBin, want: ErrInvalid, wantMsg: "bin/detect is missing"},
		{name: "traversal archive", ref: traversal, want: ErrInvalid, wantMsg: "leaves the buildpack directory"},
		{name: "not gzip", ref: notGzip, want: ErrInvalid, wantMsg: "not a gzip archive"},
		{name: "ref option injection", ref: "file://" + repo + "#--upload-pack=touch", want: ErrFetch, wantMsg: "may not start with '-'"},
		{name: "archive URL with ref", ref: srv.URL + "/bp.tgz#v1", want: ErrFetch, wantMsg: "takes no #ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp, err := Fetch(context.Background(), tt.ref, Options{CacheDir: t.TempDir()})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Fetch() = %+v, %v, want %v", bp, err, tt.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "buildpack "+tt.ref+": ") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("Fetch() error = %q, want it to name the reference and contain %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestFetchCancelled(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Fetch(ctx, srv.URL+"/bp.tgz", Options{CacheDir: t.TempDir()})
	if !errors.Is(err, ErrFetch) || !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch(cancelled) error = %v, want ErrFetch and context.Canceled", err)
	}
}

func mustFetch(t *testing.T, ref string, opts Options) *Buildpack {
	t.Helper()
	bp, err := Fetch(context.Background(), ref, opts)
	if err != nil {
		t.Fatalf("Fetch(%q) error = %v", ref, err)
	}
	return bp
}

func TestFetchWithoutGit(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ref := "https://h.test/heroku-buildpack-go.git"
	_, err := Fetch(context.Background(), ref, Options{CacheDir: t.TempDir()})
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "git is not installed") {
		t.Errorf("Fetch() without git error = %v, want ErrFetch saying git is not installed", err)
	}
}

// TestFetchWaitsForLock checks that a fetch waiting for another process's
// fetch of the same reference gives up when its context ends.
func TestFetchWaitsForLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bp.tgz")
	writeTgz(t, path, buildpackEntries("", "1"))
	cache := t.TempDir()
	lock, err := os.Create(filepath.Join(cache, cacheKey(path)+".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	_, err = Fetch(ctx, path, Options{CacheDir: cache, Log: &log})
	if !errors.Is(err, ErrFetch) || !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch() while locked error = %v, want ErrFetch and context.Canceled", err)
	}
	if !strings.Contains(log.String(), "Waiting for another fetch") {
		t.Errorf("log = %q, want a line about waiting", log.String())
	}
}
