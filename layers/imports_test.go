package layers

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps layers a leaf: it builds on ggcr's types and the
// standard library, never on a container runtime or on other paas packages
// (but fsutil, itself a leaf), so every stage can use it without pulling
// those in.
func TestImports(t *testing.T) {
	forbidden := []string{"github.com/containerd/", "github.com/paas-dev/paas/"}
	allowed := map[string]bool{"github.com/paas-dev/paas/fsutil": true}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if allowed[path] {
				continue
			}
			for _, f := range forbidden {
				if strings.HasPrefix(path, f) {
					t.Errorf("%s imports %s, want nothing under %s", name, path, f)
				}
			}
		}
	}
}
