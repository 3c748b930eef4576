package testenv

import "testing"

// NamedStackTar returns a rootfs tarball of the stack described by
// testfixtures/stacks/NAME/recipe (for example "toolchains", the stack with
// Go, Node.js and Python that the builtin buildpacks need), building it with
// mmdebstrap the first time. Tarballs are cached by the recipe's hash, so
// StackTar(t) and NamedStackTar(t, "test") return the same file.
func NamedStackTar(t testing.TB, name string) string {
	t.Helper()
	forbidInShort(t, "Stack")
	path, err := stackTar(name)
	if err != nil {
		t.Fatalf("%s stack: %v", name, err)
	}
	return path
}
