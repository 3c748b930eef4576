package testenv

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// ImportsOnly fails the test when the package in the current directory
// imports anything but the standard library and the allowed packages: the
// way a package is kept a leaf that others may import without cycles or
// heavy dependencies.
func ImportsOnly(t *testing.T, allowed ...string) {
	t.Helper()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") && !slices.Contains(allowed, imp) {
			t.Errorf("%s imports %s, want only the standard library and %q", pkg.Name, imp, allowed)
		}
	}
}
