package runner

import (
	"strings"
	"testing"
)

// FuzzParseUser checks that an image's User either fails or gives ids the
// sandbox can map: never negative, group 0 when none is named.
func FuzzParseUser(f *testing.F) {
	f.Fuzz(func(t *testing.T, user string) {
		uid, gid, err := parseUser(user)
		if err != nil {
			return
		}
		if uid < 0 || gid < 0 {
			t.Errorf("parseUser(%q) = %d, %d, want ids >= 0", user, uid, gid)
		}
		if !strings.Contains(user, ":") && gid != 0 {
			t.Errorf("parseUser(%q) gid = %d, want 0 without a group", user, gid)
		}
	})
}
