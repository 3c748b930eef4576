package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// toolchainsOnce imports the toolchains stack (python3, node) once per
// home: the network tests need real HTTP clients in the sandbox.
var toolchainsOnce sync.Map

func withToolchains(t *testing.T, h *testHome) {
	t.Helper()
	once, _ := toolchainsOnce.LoadOrStore(h.dir, &sync.Once{})
	once.(*sync.Once).Do(func() {
		if out, code := h.paas(t, "stack", "import", "toolchains", testenv.NamedStackTar(t, "toolchains")); code != 0 {
			t.Fatalf("paas stack import toolchains: exit %d\n%s", code, out.stderr)
		}
	})
}

// fetchBuild builds an empty app with the fetch buildpack pointed at url
// and returns what each HTTP client in the sandbox got.
func fetchBuild(t *testing.T, h *testHome, env []string, url string, args ...string) map[string]string {
	t.Helper()
	app := userTempDir(t, h.user)
	args = append([]string{"build", "--stack", "toolchains", "-t", "fetch", "-b", buildpackDir("fetch"), "-e", "FETCH_URL=" + url}, args...)
	out, code := h.paasEnv(t, env, append(args, app)...)
	if code != 0 {
		t.Fatalf("paas build: exit %d\n%s", code, out.stderr)
	}
	got := map[string]string{}
	for name, e := range layerEntries(t, lastLayers(t, storedImage(t, h, "fetch"), 1)[0]) {
		if client, ok := strings.CutPrefix(name, "app/fetched/"); ok {
			got[client] = e.body
		}
	}
	if len(got) != 3 {
		t.Fatalf("fetched = %v, want an answer from python, node and apt", got)
	}
	return got
}

// Builds trust the host's certificate authorities and those of --ca-cert:
// behind a TLS-inspecting proxy, every client in the sandbox works with no
// flags. The extra authorities are not in the image or the cache.
func TestBuildTrustsCACerts(t *testing.T) {
	ca := testenv.NewCA(t)
	url := ca.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "trusted-ok")
	}))
	forEachUser(t, func(t *testing.T, h *testHome) {
		withToolchains(t, h)
		for client, body := range fetchBuild(t, h, nil, url) {
			if !strings.HasPrefix(body, "failed:") {
				t.Errorf("%s fetched %s without --ca-cert: %q, want a certificate error", client, url, body)
			}
		}
		caFile := filepath.Join(userTempDir(t, h.user), "ca.pem")
		if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
		for client, body := range fetchBuild(t, h, nil, url, "--ca-cert", caFile) {
			if body != "trusted-ok" {
				t.Errorf("%s with --ca-cert got %q, want trusted-ok", client, body)
			}
		}
		notStored(t, h, ca.PEM)
	})
}

// notStored fails if any file of the store (images, caches) holds data.
func notStored(t *testing.T, h *testHome, data []byte) {
	t.Helper()
	ls, err := storedImage(t, h, "fetch").Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		for name, e := range layerEntries(t, l) {
			if strings.Contains(e.body, string(data)) {
				t.Errorf("image layer holds the CA certificate in %s", name)
			}
		}
	}
	_ = filepath.WalkDir(filepath.Join(h.dir, "cache"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, data) {
				t.Errorf("build cache holds the CA certificate in %s", p)
			}
		}
		return nil
	})
}

// A bad --ca-cert is a usage error naming the file.
func TestBuildBadCACert(t *testing.T) {
	h := sharedHome(t, root)
	bad := filepath.Join(userTempDir(t, root), "not-a-cert.pem")
	if err := os.WriteFile(bad, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := h.paas(t, "build", "-b", buildpackDir("hello"), "--ca-cert", bad, appCopy(t, root, "hello"))
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out.stderr)
	}
	contains(t, "stderr", out.stderr, "not-a-cert.pem: no PEM certificate found")
}

// The caller's proxy settings, in either case, reach the buildpacks' HTTP
// clients.
func TestBuildUsesCallersProxy(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "paas-proxy-test.invalid" {
			http.Error(w, "unexpected host "+r.URL.Host, http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		fmt.Fprint(w, "via-proxy")
	}))
	t.Cleanup(proxy.Close)
	forEachUser(t, func(t *testing.T, h *testHome) {
		withToolchains(t, h)
		for _, name := range []string{"http_proxy", "HTTP_PROXY"} {
			t.Run(name, func(t *testing.T) {
				got := fetchBuild(t, h, []string{name + "=" + proxy.URL}, "http://paas-proxy-test.invalid/")
				for _, client := range []string{"python", "apt"} {
					if got[client] != "via-proxy" {
						t.Errorf("%s got %q, want the proxy's answer", client, got[client])
					}
				}
			})
		}
	})
	if proxied.Load() == 0 {
		t.Error("the proxy saw no request")
	}
}
