// Package sandbox runs commands, such as buildpack scripts, inside a rootless
// sandbox: new user, mount and pid namespaces (and a network namespace with
// NetworkNone) whose / is a copy-on-write overlay of a stack rootfs. It needs
// no privileges beyond those of an ordinary user on a kernel that allows
// unprivileged user namespaces and overlayfs in them (Linux ≥ 5.11), and it
// also works as root.
//
// A Mount is a bind of a host path, or, with Upper, a copy-on-write overlay
// of a host directory that commands cannot write through (a build's
// working copy of the app); OpenOverlay shows the host what they left.
//
// The sandbox's init is this same executable started again, so every program
// that uses the package must call Reexec first thing in main (and tests in
// TestMain).
//
// Unpack and RemoveAll use the same init, without a sandbox around it, for
// what needs root's powers over the ids the sandbox maps: giving an image's
// files their owners as sandboxes will see them, and removing files owned by
// subordinate ids.
//
// Host gives the same interface without any isolation, for machines where
// namespaces are unavailable (`--sandbox none`).
package sandbox
