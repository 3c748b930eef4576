package proxy_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary keeps the proxy free of the rest of paas
// and of third-party code: it sits in front of every request, and `paas
// run` must be able to use it whatever runs the app.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("proxy imports %s, want only the standard library", imp)
		}
	}
}
