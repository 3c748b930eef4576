//go:build tools

// Package tools pins the BuildKit daemon that paas's BuildKit tests build
// on (scripts/install-buildkitd): the same module version as paas's client.
package tools

import _ "github.com/moby/buildkit/cmd/buildkitd"
