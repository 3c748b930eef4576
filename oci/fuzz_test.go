package oci

import (
	"strings"
	"testing"
)

// FuzzNormalizeName checks that an accepted name is a fixed point, has a
// tag, and cannot name a path outside the store: names become file names.
func FuzzNormalizeName(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeName(s)
		if err != nil {
			return
		}
		if again, err := NormalizeName(got); err != nil || again != got {
			t.Errorf("NormalizeName(%q) = %q, %v, want %q unchanged", got, again, err, got)
		}
		if !strings.Contains(got[strings.LastIndex(got, "/")+1:], ":") {
			t.Errorf("NormalizeName(%q) = %q, want a tag", s, got)
		}
		for _, part := range strings.Split(got, "/") {
			if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\x00\\") {
				t.Errorf("NormalizeName(%q) = %q, has path component %q", s, got, part)
			}
		}
	})
}

// FuzzParseDest checks that an accepted --output splits exactly into a
// known transport and a path that Load can read back.
func FuzzParseDest(f *testing.F) {
	f.Fuzz(func(t *testing.T, dest string) {
		transport, path, err := ParseDest(dest)
		if err != nil {
			return
		}
		if transport+":"+path != dest || path == "" || strings.Contains(path, ":") {
			t.Errorf("ParseDest(%q) = %q, %q, want transport:path with no ':' in path", dest, transport, path)
		}
		if _, p, _, err := parseSource(dest); err != nil || p != path {
			t.Errorf("parseSource(%q) = %q, %v, want path %q", dest, p, err, path)
		}
	})
}
