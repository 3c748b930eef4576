package home

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDefault(t *testing.T) {
	tests := []struct {
		name, paasHome, xdg, home, want string
	}{
		{"PAAS_HOME wins", "/p", "/x", "/h", "/p"},
		{"XDG_DATA_HOME", "", "/x", "/h", "/x/paas"},
		{"HOME", "", "", "/h", "/h/.local/share/paas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PAAS_HOME", tt.paasHome)
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got := Default(); got != tt.want {
				t.Errorf("Default() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyKeepsNamesApart(t *testing.T) {
	names := []string{"a/b:latest", "a_b:latest", "a-b:latest", "..", ".", "a/b:v2"}
	seen := map[string]string{}
	for _, n := range names {
		k := Key(n)
		if k == "" || k == "." || k == ".." || strings.ContainsRune(k, '/') {
			t.Errorf("Key(%q) = %q: not a safe file name", n, k)
		}
		if other, ok := seen[k]; ok {
			t.Errorf("Key(%q) = Key(%q) = %q", n, other, k)
		}
		seen[k] = n
	}
}

func TestBuildCacheTakesTurns(t *testing.T) {
	h, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, unlock, err := h.BuildCache("app", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kept"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	second := make(chan string)
	go func() {
		dir, unlock, err := h.BuildCache("app", true, func() { close(waited) })
		if err != nil {
			t.Error(err)
		}
		unlock()
		second <- dir
	}()
	<-waited // the second build waits for the first to release the cache
	unlock()
	if got := <-second; got != dir {
		t.Errorf("second build got cache %s, want %s", got, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept")); !os.IsNotExist(err) {
		t.Errorf("the cache was not emptied for a build with empty=true: %v", err)
	}
}

// The layer record of an app sits beside its CACHE_DIR, out of the
// buildpacks' reach.
func TestLayerCacheBesideBuildCache(t *testing.T) {
	h, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, unlock, err := h.BuildCache("app", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	record := h.LayerCache("app")
	if filepath.Dir(record) != filepath.Dir(dir) || strings.HasPrefix(record, dir+"/") {
		t.Fatalf("LayerCache() = %s, want it beside %s", record, dir)
	}
	if h.LayerCache("other") == record {
		t.Error("two apps share a layer record")
	}
}

func TestServingRecords(t *testing.T) {
	h, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := h.SignalServing("app:latest", 0); err != nil || len(pids) != 0 {
		t.Fatalf("nothing serving: got %v, %v", pids, err)
	}
	serving, err := h.ClaimServing("app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := serving.SetStatus([]byte(`{"x": 1}`)); err != nil {
		t.Fatal(err)
	}
	if st, err := h.ServingStatus(); err != nil || string(st[os.Getpid()]) != `{"x": 1}` {
		t.Errorf("ServingStatus() = %v, %v", st, err)
	}
	if pids := h.ServingPids("app:latest"); len(pids) != 1 || pids[0] != os.Getpid() {
		t.Errorf("ServingPids() = %v, want [%d]", pids, os.Getpid())
	}
	// Signal 0 checks the holder is alive without disturbing it.
	pids, err := h.SignalServing("app:latest", unix.Signal(0))
	if err != nil || len(pids) != 1 || pids[0] != os.Getpid() {
		t.Fatalf("serving: got %v, %v, want [%d]", pids, err, os.Getpid())
	}
	if pids, _ := h.SignalServing("other:latest", 0); len(pids) != 0 {
		t.Errorf("another name matched: %v", pids)
	}
	serving.Release()
	if pids, _ := h.SignalServing("app:latest", 0); len(pids) != 0 {
		t.Errorf("released, still found: %v", pids)
	}
	if st, _ := h.ServingStatus(); len(st) != 0 {
		t.Errorf("released, status still listed: %v", st)
	}
}
