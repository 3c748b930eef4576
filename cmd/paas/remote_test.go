package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

func buildpacksLabel(t *testing.T, h *testHome, image string) []map[string]string {
	t.Helper()
	cf, _ := storedImage(t, h, image).ConfigFile()
	var bps []map[string]string
	if err := json.Unmarshal([]byte(cf.Config.Labels["io.paas.buildpacks"]), &bps); err != nil {
		t.Fatal(err)
	}
	return bps
}

// Buildpacks from a .tgz URL and from a git repository: fetched once,
// cached, and recorded exactly in the image.
func TestBuildRemoteBuildpacks(t *testing.T) {
	h := sharedHome(t, root)
	var requests atomic.Int32
	archive := testenv.Tgz(t, buildpackDir("hello"), "hello-buildpack")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write(archive)
	}))
	defer srv.Close()
	url := srv.URL + "/hello-buildpack.tgz"
	for i := 0; i < 2; i++ {
		h.mustBuild(t, "-t", "from-tgz", "-b", url, appCopy(t, root, "hello"))
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the .tgz was downloaded %d times, want once (then cached)", n)
	}
	bps := buildpacksLabel(t, h, "from-tgz:latest")
	if len(bps) != 1 || bps[0]["source"] != url || !strings.HasPrefix(bps[0]["resolved"], "sha256:") {
		t.Errorf("io.paas.buildpacks = %v", bps)
	}

	repo := filepath.Join(t.TempDir(), "hello-buildpack.git")
	copyDir(t, buildpackDir("hello"), repo)
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-qm", "hello buildpack")
	commit := git("rev-parse", "HEAD")
	ref := "file://" + repo + "#main"
	r := h.mustBuild(t, "-t", "from-git", "-b", ref, appCopy(t, root, "hello"))
	if r.Buildpacks[0].Resolved != commit {
		t.Errorf("resolved = %q, want commit %s", r.Buildpacks[0].Resolved, commit)
	}
	if bps := buildpacksLabel(t, h, "from-git:latest"); bps[0]["resolved"] != commit || bps[0]["source"] != ref {
		t.Errorf("io.paas.buildpacks = %v", bps)
	}

	out, code := h.paas(t, "build", "-t", "bad-ref", "-b", "file://"+repo+"#no-such-branch", appCopy(t, root, "hello"))
	if code != exitBuildpack {
		t.Fatalf("unknown ref: exit %d, want %d\n%s", code, exitBuildpack, out.stderr)
	}
	contains(t, "stderr", out.stderr, "no-such-branch")
}

// A buildpack URL's credentials are used to fetch it but never printed or
// recorded: not in the label, --json, progress lines or errors.
func TestBuildRedactsCredentials(t *testing.T) {
	h := sharedHome(t, root)
	archive := testenv.Tgz(t, buildpackDir("hello"), "hello-buildpack")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "ci" || pass != "s3cr3t-token" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/bp.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(archive)
	}))
	defer srv.Close()
	withCreds := strings.Replace(srv.URL, "http://", "http://ci:s3cr3t-token@", 1)
	out, code := h.paas(t, "build", "--json", "-t", "creds", "-b", withCreds+"/bp.tgz", appCopy(t, root, "hello"))
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, out.stderr)
	}
	label := buildpacksLabel(t, h, "creds:latest")
	if label[0]["source"] != srv.URL+"/bp.tgz" {
		t.Errorf("label source = %q, want the URL without credentials", label[0]["source"])
	}
	failed, code := h.paas(t, "build", "-t", "creds", "-b", withCreds+"/missing.tgz", appCopy(t, root, "hello"))
	if code != exitBuildpack {
		t.Errorf("missing archive: exit %d, want %d", code, exitBuildpack)
	}
	for what, text := range map[string]string{"stdout": out.stdout, "stderr": out.stderr, "error": failed.stderr, "label": fmt.Sprint(label)} {
		if strings.Contains(text, "s3cr3t-token") {
			t.Errorf("%s shows the credentials:\n%s", what, text)
		}
	}
	contains(t, "error", failed.stderr, srv.URL+"/missing.tgz")
}
