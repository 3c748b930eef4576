package detect

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps detect a leaf of the standard library: choosing
// buildpacks must not pull in the sandbox, the image store or containerd.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("detect imports %s, want only the standard library", imp)
		}
	}
}
