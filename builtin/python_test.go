package builtin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// The Python app with no dependencies gets a virtualenv and serves with
// python app.py.
func TestPythonApp(t *testing.T) {
	r, out := build(t, "builtin-python", testenv.Fixture("apps", "python"))
	detected(t, r, "Python")
	if got := r.Processes["web"]; got != "python app.py" {
		t.Errorf("web process = %q, want python app.py", got)
	}
	if !strings.Contains(out, "-----> Creating a virtualenv in /app/.venv") {
		t.Errorf("build output:\n%s", out)
	}
	files := appFiles(t, r)
	if !contains(files, "app/.venv/bin/python") || !contains(files, "app/.profile.d/python.sh") {
		t.Errorf("the app layers lack the virtualenv or .profile.d/python.sh")
	}
	if body := serve(t, r.Name); body != "hello from python\n" {
		t.Errorf("GET / = %q, want %q", body, "hello from python\n")
	}
}

// When pip cannot reach the package index, the build fails and says which
// index it tried.
func TestPythonUnreachableIndex(t *testing.T) {
	store(t)
	app := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(testenv.Fixture("apps", "python", "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "app.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "requirements.txt"), []byte("requests==2.31.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The index URL carries a credential, which is never printed.
	index := "http://127.0.0.1:1/simple"
	withToken := "http://ci:s3cr3t-token@127.0.0.1:1/simple"
	_, out, code := paas(t, "build", "--stack", "toolchains", "-t", "builtin-python-offline",
		"-e", "PIP_INDEX_URL="+withToken, "-e", "PIP_RETRIES=0", app)
	if code != 12 {
		t.Fatalf("paas build = exit %d, want 12 (compile failed)\n%s", code, out)
	}
	if !strings.Contains(out, "pip could not install the app's dependencies from the package index "+index) {
		t.Errorf("the error does not name the index %s:\n%s", index, out)
	}
	if strings.Contains(out, "s3cr3t-token") {
		t.Errorf("the build printed the index's credential:\n%s", out)
	}
}
