package layers

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/fsutil"
)

// TestUnpackWithOwners unpacks entries owned by ids inside and outside the
// range WithOwners allows: root may give every id, an ordinary user none.
// Owners in range are given, the others stay the caller's; files lose
// their set-ID bits either way; directories get exactly the tar's mode.
func TestUnpackWithOwners(t *testing.T) {
	asCallerAndUnprivileged(t, func(t *testing.T) {
		uids, gids := 0, 0
		if os.Getuid() == 0 {
			uids, gids = 65536, 1 // gids other than 0 are out of range
		}
		es := []tarEntry{
			{name: "app/", typ: tar.TypeDir, mode: 0o300, uid: 1000, gid: 1000},
			{name: "app/run", body: "x", mode: 0o6755, uid: 1000, gid: 0},
			{name: "app/l", typ: tar.TypeSymlink, link: "run", uid: 1000, gid: 1000},
			{name: "high", body: "x", mode: 0o4755, uid: 70000, gid: 70000},
		}
		dir := t.TempDir()
		t.Cleanup(func() { fsutil.RemoveAll(dir) })
		if err := Unpack(bytes.NewReader(makeTar(t, es...)), dir, WithOwners(uids, gids)); err != nil {
			t.Fatalf("Unpack(WithOwners(%d, %d)) = %v", uids, gids, err)
		}
		for _, e := range es {
			checkOwner(t, filepath.Join(dir, e.name), e, uids, gids)
		}
	})
}

// checkOwner checks the owner and mode Unpack gave e at p.
func checkOwner(t *testing.T, p string, e tarEntry, uids, gids int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	wantUID, wantGID, wantMode := os.Getuid(), os.Getgid(), uint32(e.mode)&^(syscall.S_ISUID|syscall.S_ISGID)
	if e.uid < uids {
		wantUID = e.uid
	}
	if e.gid < gids {
		wantGID = e.gid
	}
	if int(st.Uid) != wantUID || int(st.Gid) != wantGID {
		t.Errorf("%s: owner %d:%d, want %d:%d", e.name, st.Uid, st.Gid, wantUID, wantGID)
	}
	if got := st.Mode & 0o7777; e.typ != tar.TypeSymlink && got != wantMode {
		t.Errorf("%s: mode %#o, want %#o", e.name, got, wantMode)
	}
}

func TestWithOwnersInvalid(t *testing.T) {
	if err := Unpack(bytes.NewReader(nil), t.TempDir(), WithOwners(-1, 0)); err == nil {
		t.Errorf("Unpack(WithOwners(-1, 0)) = nil, want an error")
	}
}
