// Package stacks makes stack images and unpacks them for builds.
//
// A stack is the base of a build: a Debian root filesystem that buildpacks
// run on (as / in the sandbox) and that the app image is built on. In the
// store a stack is an ordinary OCI image, so this package is a set of
// sources of v1.Image (Create, FromTarball, Import) plus one sink, Rootfs,
// which unpacks an image into a directory cached under the paas home.
//
// Unpacked root filesystems live at HOME/rootfs/<manifest digest hex>. A tree
// only ever appears under that name complete: it is unpacked into a sibling
// named .unpack-<hex>-<random> and renamed into place. Work on one digest is
// serialised by a lock file .<hex>.lock, so a leftover .unpack-<hex>-* seen
// by the holder of that lock belongs to a process that died, and is removed.
package stacks
