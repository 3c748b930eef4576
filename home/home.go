// Package home owns the layout of paas's data directory ($PAAS_HOME):
//
//	oci/         the image store (package oci), stacks and images
//	cache/KEY/   each app's build cache (CACHE_DIR), locked per build
//	cache/KEY.layers.json  the layers of each app's last export, for reuse
//	buildpacks/  fetched remote buildpacks
//	builtin/     the builtin buildpacks, extracted from the binary
//	rootfs/      unpacked root filesystems, shared by builds and the sandbox runtime
//	run/         the sandbox runtime's containers
//	run/serving/ one lock file per serving `paas run`
//	tmp/         scratch space of builds and stack creation
//
// Everything that joins a path under the home goes through a Home, so the
// layout is written down once, here.
package home

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/rootfs"
)

// Home is one paas data directory.
type Home struct {
	dir   string
	store *oci.Store
}

// Default returns where paas keeps its data: $PAAS_HOME, else
// $XDG_DATA_HOME/paas, else ~/.local/share/paas, following the XDG base
// directory convention so the store lives with other per-user data.
func Default() string {
	if h := os.Getenv("PAAS_HOME"); h != "" {
		return h
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "paas")
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		// Without $HOME there is no per-user place; a per-uid directory
		// under the temp dir at least keeps users apart.
		return filepath.Join(os.TempDir(), fmt.Sprintf("paas-%d", os.Getuid()))
	}
	return filepath.Join(dir, ".local", "share", "paas")
}

// Open opens the home at dir ("" for Default), creating it and an empty
// store when they are missing.
func Open(dir string) (*Home, error) {
	if dir == "" {
		dir = Default()
	}
	store, err := oci.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Home{dir: dir, store: store}, nil
}

// Dir returns the home directory itself.
func (h *Home) Dir() string { return h.dir }

// Store returns the image store.
func (h *Home) Store() *oci.Store { return h.store }

// Builtin is where the builtin buildpacks are extracted.
func (h *Home) Builtin() string { return filepath.Join(h.dir, "builtin") }

// Buildpacks is where remote buildpacks are fetched to.
func (h *Home) Buildpacks() string { return filepath.Join(h.dir, "buildpacks") }

// Rootfs returns the cache of unpacked root filesystems, shared by builds
// (the stack) and the sandbox runtime (app images).
func (h *Home) Rootfs() (*rootfs.Cache, error) { return rootfs.Open(filepath.Join(h.dir, "rootfs")) }

// Run holds the sandbox runtime's containers.
func (h *Home) Run() string { return filepath.Join(h.dir, "run") }

// Scratch makes a new private directory under tmp/ whose name starts with
// prefix; the caller removes it.
func (h *Home) Scratch(prefix string) (string, error) {
	dir := filepath.Join(h.dir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating scratch space: %w", err)
	}
	return os.MkdirTemp(dir, prefix)
}

// Key names a per-image file or directory of the home: the name made
// readable for a file name, plus a hash of the exact name, so two names
// never share one ("a/b" and "a_b") and no name can be "." or "..".
func Key(name string) string {
	sum := sha256.Sum256([]byte(name))
	return IDSafe(name) + "-" + hex.EncodeToString(sum[:8])
}

// IDSafe makes an image name usable in file names and container ids.
func IDSafe(s string) string {
	return strings.Trim(idReplacer.Replace(s), "-.")
}

var idReplacer = strings.NewReplacer("/", "-", ":", "-", "@", "-")
