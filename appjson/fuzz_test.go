package appjson

import (
	"strings"
	"testing"
)

// FuzzParse decodes arbitrary app.json content: never a panic, and every
// buildpack url BuildpackURLs returns is non-empty and trimmed.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		urls, err := m.BuildpackURLs()
		if err != nil {
			return
		}
		for _, u := range urls {
			if u == "" || u != strings.TrimSpace(u) {
				t.Errorf("BuildpackURLs() gave %q, want a trimmed non-empty url", u)
			}
		}
	})
}
