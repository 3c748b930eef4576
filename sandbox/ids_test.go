package sandbox

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// testIDs runs a command as uid 1000 and chowns a file to it, which needs
// more than the caller's own id mapped.
func testIDs(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	var stdout bytes.Buffer
	err := f.sb.Run(context.Background(), &Cmd{Args: []string{"id", "-u"}, UID: 1000, GID: 1000, Stdout: &stdout})
	_, errOut, chownErr := f.sh(t, "touch /etc/owned && chown 1000:1000 /etc/owned && stat -c %u:%g /etc/owned")
	if m.ids.kind == mapSelf {
		if !errors.Is(err, ErrUnmappedID) {
			t.Errorf("Run(UID 1000) = %v, want %v", err, ErrUnmappedID)
		}
		if chownErr == nil {
			t.Errorf("chown 1000 with only the caller mapped = nil, want an error")
		}
		return
	}
	if err != nil || stdout.String() != "1000\n" {
		t.Errorf("Run(UID 1000) = %q, %v; want %q", stdout.String(), err, "1000\n")
	}
	if chownErr != nil {
		t.Fatalf("chown 1000 = %v, stderr %q", chownErr, errOut)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(f.cfg.Upper, "etc/owned"), &st); err != nil {
		t.Fatal(err)
	}
	want := hostID(m.ids, 1000)
	if int(st.Uid) != want {
		t.Errorf("host owner of Upper/etc/owned = %d, want %d", st.Uid, want)
	}
}

// hostID and hostGID are the host uid and gid that inside id maps to: for
// root the range's start plus id, otherwise the caller for 0 and a
// subordinate id for the others.
func hostID(ids idMap, id int) int { return hostIDOf(ids, 0, ids.uid, id) }

func hostGID(ids idMap, id int) int { return hostIDOf(ids, 1, ids.gid, id) }

func hostIDOf(ids idMap, i, self, id int) int {
	switch {
	case ids.kind == mapRoot:
		return ids.sub[i].start + id
	case id == 0:
		return self
	}
	return ids.sub[i].start + id - 1
}
