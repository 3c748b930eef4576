package launch

import (
	"archive/tar"
	"io"
	"testing"
)

func TestDefaultType(t *testing.T) {
	tests := []struct {
		name  string
		procs map[string]string
		want  string
	}{
		{"web wins", map[string]string{"worker": "w", "web": "x"}, "web"},
		{"only type", map[string]string{"worker": "w"}, "worker"},
		{"several without web", map[string]string{"a": "1", "b": "2"}, ""},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultType(tc.procs); got != tc.want {
				t.Errorf("DefaultType() = %q, want %q", got, tc.want)
			}
		})
	}
}

// The launcher layer is the same in every build.
func TestLauncherLayerIsStable(t *testing.T) {
	a, err := Layer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Layer()
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("launcher layer digests differ: %s vs %s", da, db)
	}
}

func TestProcessLayer(t *testing.T) {
	l, err := ProcessLayer(map[string]string{"web": "perl server.pl", "worker": "bin/work"})
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := l.Uncompressed()
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
	if files["paas/processes/web"] != "perl server.pl\n" || files["paas/processes/worker"] != "bin/work\n" {
		t.Errorf("process layer files = %q", files)
	}
}
