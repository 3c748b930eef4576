package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// EgressCAFlags returns the `-e NPM_CONFIG_CA=...` flags that make npm in a
// build trust this machine's own certificate authorities
// (/usr/local/share/ca-certificates, which a TLS-inspecting egress proxy
// may need and a Debian stack does not have), or nothing when there are
// none. NPM_CONFIG_CA is an ordinary config var the nodejs buildpack passes
// to npm.
func EgressCAFlags(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	var pem []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pem = append(pem, b...)
	}
	if len(pem) == 0 {
		return nil
	}
	return []string{"-e", "NPM_CONFIG_CA=" + string(pem)}
}
