// Package fsutil holds the file-system helpers the rest of paas shares, one
// implementation each: atomic file writes (WriteFile, CreateTemp), removal
// of trees with read-only directories (RemoveAll), file locks that wait
// while a context allows (LockFile), a SHA-256 digester that also
// counts (Digester) and the names of special file types (KindOf).
//
// It is a leaf: besides the standard library it uses only
// golang.org/x/sys/unix and go-containerregistry's v1.Hash, so every
// package, layers included, may import it.
package fsutil
