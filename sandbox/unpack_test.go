package sandbox

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// testUnpack unpacks the test stack and an app layer through the mapping
// and checks the owners twice: on the host, where they are the ids the
// mapping gives the tar's owners, and inside a sandbox over the result,
// where the image's user writes to its own /app.
func testUnpack(t *testing.T, m mode) {
	dir := filepath.Join(scratchDir(t), "rootfs")
	unpackFile(t, m, testenv.StackTar(t), dir)
	app := appLayer(t, []tar.Header{
		{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1000},
		{Name: "app/setuid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 70000, Gid: 0},
	})
	if err := unpackWithIDs(t.Context(), m.ids, bytes.NewReader(app), dir); err != nil {
		t.Fatalf("Unpack(app layer) = %v", err)
	}
	user := 1000
	if m.ids.kind == mapSelf {
		user = 0 // the only id there is: it owns everything
	}
	checkHostOwner(t, filepath.Join(dir, "app"), m.ids, user)
	checkHostOwner(t, filepath.Join(dir, "app/setuid"), m.ids, 0)

	f := newFixtureOn(t, m, dir)
	script := "echo written > /app/out && cat /app/out && stat -c '%u:%g %a' /app /app/out /app/setuid"
	var stdout, stderr bytes.Buffer
	err := f.sb.Run(t.Context(), &Cmd{Args: []string{"sh", "-c", script}, UID: user, GID: user, Stdout: &stdout, Stderr: &stderr})
	want := fmt.Sprintf("written\n%[1]d:%[1]d 755\n%[1]d:%[1]d 644\n0:0 755\n", user)
	if err != nil || stdout.String() != want {
		t.Errorf("Run(%q) as %d = %q, %v (stderr %q); want %q", script, user, stdout.String(), err, stderr.String(), want)
	}
}

// unpackFile unpacks the tarball at path into dir through m's mapping.
func unpackFile(t *testing.T, m mode, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unpackWithIDs(t.Context(), m.ids, f, dir); err != nil {
		t.Fatalf("Unpack(%s) = %v", path, err)
	}
}

// appLayer writes hdrs, regular files with one line each, as a tar.
func appLayer(t *testing.T, hdrs []tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = "#!/bin/sh\n"
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkHostOwner checks that p belongs, on the host, to the ids that the
// inside id maps to.
func checkHostOwner(t *testing.T, p string, ids idMap, id int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	want := hostID(ids, id)
	if int(st.Uid) != want || int(st.Gid) != hostGID(ids, id) {
		t.Errorf("host owner of %s = %d:%d, want %d:%d (inside %d)", p, st.Uid, st.Gid, want, hostGID(ids, id), id)
	}
}

// newFixtureOn returns a sandbox over root with a fresh Upper.
func newFixtureOn(t *testing.T, m mode, root string) *fixture {
	t.Helper()
	f := &fixture{cfg: Config{Root: root, Upper: filepath.Join(scratchDir(t), "upper"), Network: NetworkHost}}
	sb, err := newWithIDs(f.cfg, m.ids)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	f.sb = sb
	return f
}

func TestIDMapString(t *testing.T) {
	root := idMap{kind: mapRoot, sub: [2]idRange{{rootRangeStart, rootRange}, {rootRangeStart, rootRange}}}
	sub := idMap{kind: mapSubID, uid: 1001, gid: 1001, sub: [2]idRange{{100000, 65536}, {200000, 65536}}}
	self := idMap{kind: mapSelf, uid: 1001, gid: 1001}
	tests := []struct {
		ids  idMap
		want string
	}{
		{root, "uid 0:2147418112:65536 gid 0:2147418112:65536"},
		{sub, "uid 0:1001:1,1:100000:65536 gid 0:1001:1,1:200000:65536"},
		{self, "uid 0:1001:1 gid 0:1001:1"},
	}
	for _, tt := range tests {
		if got := tt.ids.String(); got != tt.want {
			t.Errorf("idMap.String() = %q, want %q", got, tt.want)
		}
	}
}
