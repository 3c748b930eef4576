package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secret is in every file the server must never serve.
const secret = "SECRET-must-not-be-served"

// hostileApp makes an app directory with secrets next to and inside the
// document root, and symbolic links that try to reach them, and returns
// the app directory, symlink-free.
func hostileApp(t *testing.T) string {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(tmp, "app")
	files := map[string]string{
		"app/.env":                 secret,
		"app/.git/config":          secret,
		"app/public/.git/config":   secret,
		"app/public/.hidden":       secret,
		"app/public/index.html":    "welcome",
		"app/public/ok.txt":        "ok",
		"app/public/sub/page.html": "page",
		"app/index.html":           "app index",
		"outside.txt":              secret,
	}
	for name, content := range files {
		writeFile(t, filepath.Join(tmp, name), content)
	}
	links := map[string]string{
		"app/public/x":        "../.env",
		"app/public/y":        ".git/config",
		"app/public/gitdir":   "../.git",
		"app/public/out":      "../../outside.txt",
		"app/public/abs":      filepath.Join(tmp, "outside.txt"),
		"app/public/etc":      "/etc",
		"app/public/link.txt": "ok.txt",
		"app/x":               ".env",
		"app/y":               ".git/config",
		"app/gitdir":          ".git",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tmp, name)); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serveRoot serves root over loopback HTTP until the test ends.
func serveRoot(t *testing.T, root string) string {
	t.Helper()
	srv := httptest.NewServer(handler(config{}, root))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDotFilesAndEscapesAreNotFound(t *testing.T) {
	app := hostileApp(t)
	tests := []struct {
		root  string // the document root, in the app
		paths []string
	}{{
		root: "public",
		paths: []string{
			"/x",             // a link to the app's .env, out of the root
			"/y",             // a link to a dot file inside the root
			"/gitdir/config", // a linked directory out of the root
			"/out",           // a relative link out of the app
			"/abs",           // an absolute link out of the app
			"/etc/passwd",    // a link to a host directory
			"/.hidden", "/.git/config", "/sub/", "/sub",
		},
	}, {
		root: ".",
		paths: []string{
			"/x",             // a link to .env, inside the root
			"/y",             // a link to .git/config, inside the root
			"/gitdir/config", // a link to .git, inside the root
			"/.env", "/.git/config", "/public/.hidden", "/public/x", "/public/sub/",
		},
	}}
	for _, tt := range tests {
		url := serveRoot(t, filepath.Join(app, tt.root))
		for _, p := range tt.paths {
			t.Run(tt.root+p, func(t *testing.T) {
				code, body := get(t, url+p)
				if code != http.StatusNotFound || strings.Contains(body, secret) {
					t.Errorf("GET %s with root %s = %d %q, want 404", p, tt.root, code, body)
				}
			})
		}
	}
}

func TestRawPathEscapesAreRefused(t *testing.T) {
	url := serveRoot(t, filepath.Join(hostileApp(t), "public"))
	addr := strings.TrimPrefix(url, "http://")
	for _, p := range []string{"/../.env", "/..%2f.env", "/%2e%2e/.env", "/sub/../../.env", "/%2e%65nv", "/sub/..%2F..%2Foutside.txt"} {
		t.Run(p, func(t *testing.T) {
			status, body := rawGet(t, addr, p)
			if strings.HasPrefix(status, "HTTP/1.1 200") || strings.Contains(body, secret) {
				t.Errorf("GET %s = %q %q, want it refused", p, status, body)
			}
		})
	}
}

func TestOrdinaryFilesAreServed(t *testing.T) {
	url := serveRoot(t, filepath.Join(hostileApp(t), "public"))
	for p, want := range map[string]string{"/": "welcome", "/ok.txt": "ok", "/link.txt": "ok", "/sub/page.html": "page"} {
		if code, body := get(t, url+p); code != http.StatusOK || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", p, code, body, want)
		}
	}
}

func TestListensOnLoopbackByDefault(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		vars map[string]string
		want string
	}{
		{vars: nil, want: ":5000"},
		{vars: map[string]string{"PORT": "31337"}, want: ":31337"},
		{vars: map[string]string{"PORT": "8080", "HOST": "127.0.0.1"}, want: "127.0.0.1:8080"},
		{vars: map[string]string{"PORT": "8080", "HOST": "::1"}, want: "[::1]:8080"},
	}
	for _, tt := range tests {
		if got := listenAddr(env(tt.vars)); got != tt.want {
			t.Errorf("listenAddr(%v) = %q, want %q", tt.vars, got, tt.want)
		}
	}
}

// get GETs url without following redirects.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// rawGet sends path unmodified, as an attacker's client would, and
// returns the status line and the body.
func rawGet(t *testing.T, addr, path string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	rest, _ := io.ReadAll(br)
	return strings.TrimSpace(status), string(rest)
}
