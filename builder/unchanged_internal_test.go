package builder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

// A build record that is missing, damaged, of another version or keyless
// is no record: the build runs.
func TestLastBuildIgnoresBadRecords(t *testing.T) {
	h, err := home.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &build{tag: "app:latest"}
	path := h.BuildRecord(oci.Repository(b.tag))
	if b.lastBuild(h) != nil {
		t.Error("a missing record was read")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"{not json",
		`{"version": 99, "key": "sha256:1", "report": {"image": "app:latest"}}`,
		`{"version": 1, "key": "", "report": {"image": "app:latest"}}`,
		`{"version": 1, "key": "sha256:1"}`,
	} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := b.lastBuild(h); r != nil {
			t.Errorf("record %s was read: %+v", bad, r)
		}
	}
	good := `{"version": 1, "key": "sha256:1", "report": {"image": "app:latest", "digest": "sha256:2"}}`
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	r := b.lastBuild(h)
	if r == nil || r.Key != "sha256:1" {
		t.Fatalf("a good record was not read: %+v", r)
	}
	// Its image is not in the store: nothing is reused.
	if b.unchanged(h, r) != nil {
		t.Error("a record whose image is not tagged was reused")
	}
}
