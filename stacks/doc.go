// Package stacks makes stack images.
//
// A stack is the base of a build: a Debian root filesystem that buildpacks
// run on (as / in the sandbox) and that the app image is built on. In the
// store a stack is an ordinary OCI image, so this package is a set of
// sources of v1.Image (Create, FromTarball, Import). Builds unpack it with
// the rootfs package's cache, which the sandbox runtime shares.
package stacks
