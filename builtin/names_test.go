package builtin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// A remote classic buildpack written in bash, served as a .tgz over http,
// runs before the builtin go buildpack named in .buildpacks: what its
// `declare -x` export file sets (GOPROXY=off, from the app's EXPORTS config
// var) reaches go's compile, the image is labelled with the builtin's name
// and content hash, and it serves.
func TestRemoteBashThenBuiltinByName(t *testing.T) {
	store(t)
	archive := testenv.Tgz(t, testenv.Fixture("buildpacks", "bash-exporter"), "bash-exporter-1.0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(archive)
	}))
	defer srv.Close()
	url := srv.URL + "/bash-exporter.tgz"
	app := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-r", testenv.Fixture("apps", "go"), app).CombinedOutput(); err != nil {
		t.Fatalf("copying the go app: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(app, ".buildpacks"), []byte(url+"\ngo\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r, out := build(t, "names-remote-go", app, "-e", "EXPORTS=GOPROXY=off")
	for _, want := range []string{"-----> Wrote ", "declare -x lines to the export file", "(GOPROXY=off, CGO_ENABLED=0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	bps := r.Buildpacks
	if len(bps) != 2 || bps[0].Source != url || !strings.HasPrefix(bps[0].Resolved, "sha256:") ||
		bps[1].Name != "go" || bps[1].Source != "go" || !strings.HasPrefix(bps[1].Resolved, "builtin@sha256:") {
		t.Errorf("buildpacks = %+v, want %s (sha256-pinned) then go (builtin@sha256-pinned)", bps, url)
	}
	if body := serve(t, r.Name); body != "hello from go\n" {
		t.Errorf("GET / = %q, want %q", body, "hello from go\n")
	}
}
