package health_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary keeps health free of the runtimes that
// start processes: it only needs an address and an "exited" signal, so
// both containerd and sandbox runs can use it.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("health imports %s, want only the standard library", imp)
		}
	}
}
