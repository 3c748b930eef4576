// Package builtin holds paas's builtin buildpacks: classic (Heroku-style)
// buildpacks for Go, Node.js, Python, static sites and Procfile-only apps,
// written as POSIX shell scripts and embedded in the paas binary. They use
// the toolchains the stack provides (no downloads of runtimes), read their
// settings from ENV_DIR and keep their caches in CACHE_DIR.
//
// Extract writes them to disk, where paas runs them like any local
// buildpack directory; they are the default detection list when nothing
// names buildpacks.
package builtin
