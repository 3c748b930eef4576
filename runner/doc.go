// Package runner starts one process of a built image, streams its output,
// stops it and removes everything it created for it.
//
// Two runtimes implement Runtime. The containerd runtime (NewContainerd)
// imports the image into a containerd daemon, unpacks it with the default
// snapshotter and runs the process as a container task. The sandbox runtime
// (NewSandbox) needs no daemon and no privileges: it unpacks the image into
// a rootfs cache and runs the process in paas's rootless sandbox.
//
// In both runtimes the process shares the host's network, as a Heroku dyno
// behind a router does: paas chooses the PORT it listens on and its reverse
// proxy forwards to it, so no port mapping or bridge network is needed.
package runner
