package buildpack

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// Fetching over https trusts the CAs given (the host's and --ca-cert
// files, as a build passes them), for archives and git clones alike; a
// server whose CA is not among them is refused.
func TestFetchTrustsGivenCAs(t *testing.T) {
	t.Setenv("GIT_SSL_CAINFO", "")
	ca := testenv.NewCA(t)
	tgz := filepath.Join(t.TempDir(), "bp.tgz")
	writeTgz(t, tgz, buildpackEntries("bp/", "1"))
	repo := newRepo(t)
	commitBuildpack(t, repo, "1")
	gitCmd(t, repo, "update-server-info") // git's dumb http protocol: plain files
	mux := http.NewServeMux()
	mux.HandleFunc("/bp.tgz", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, tgz) })
	mux.Handle("/bp.git/", http.StripPrefix("/bp.git/", http.FileServer(http.Dir(filepath.Join(repo, ".git")))))
	url := ca.Serve(t, mux)

	for _, ref := range []string{url + "/bp.tgz", url + "/bp.git"} {
		_, err := Fetch(context.Background(), ref, Options{CacheDir: t.TempDir(), CAs: testenv.NewCA(t).PEM})
		if !errors.Is(err, ErrFetch) {
			t.Errorf("Fetch(%s) trusting another CA = %v, want ErrFetch", ref, err)
		}
		bp := mustFetch(t, ref, Options{CacheDir: t.TempDir(), CAs: ca.PEM})
		if version(t, bp) != "1" {
			t.Errorf("Fetch(%s) trusting its CA gave version %q", ref, version(t, bp))
		}
	}
}
