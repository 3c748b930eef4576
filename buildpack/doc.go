// Package buildpack turns a buildpack reference (a local directory, a .tgz
// archive file or URL, or a git URL with an optional #ref) into a validated
// buildpack directory on disk.
//
// Fetched buildpacks are cached by reference so that pinned references (a
// full commit sha, an archive) are fetched once and later builds need no
// network; unpinned git references (a branch, a tag, no ref) are re-fetched
// only when asked to pull. Cache entries are written atomically and fetches
// of one reference are serialised by a file lock, so concurrent builds are
// safe. Callers copy Buildpack.Dir before running it, because buildpacks
// write into their own directory (the "export" file) during a build.
package buildpack
