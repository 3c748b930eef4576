// Package oci owns images on disk. It keeps the local store, an OCI image
// layout under the paas home that holds built images and stacks under
// separate namespaces and stays readable after a crash or kill -9 at any
// moment, and it moves images between paas and the outside world: OCI layout
// directories, OCI archives, docker archives and registries.
//
// Images travel as go-containerregistry's v1.Image so that every source and
// sink composes with the rest of that library.
package oci
