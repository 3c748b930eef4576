package oci

// The label and annotation keys paas writes and reads. They are part of
// paas's image format, as SPEC.md gives it (sections 4, 5 and 6): other
// tools (skopeo inspect, containerd, a registry's UI) show them, and images
// built by one version of paas are read by the next. Every package uses
// these names; no key is spelled out anywhere else.

// Labels in the config of an app image that paas builds (SPEC.md §4).
const (
	// LabelProcesses is a JSON object, process type → command.
	LabelProcesses = "io.paas.processes"
	// LabelBuildpacks is a JSON list of {name, source, resolved,
	// detected}: the buildpacks that ran, enough to repeat the build.
	LabelBuildpacks = "io.paas.buildpacks"
	// LabelStack is JSON {name, digest, run_image, run_digest}: the stack,
	// its build image's digest, and the run image the app was placed on.
	LabelStack = "io.paas.stack"
	// LabelRevision is the git commit the app was built from, when known.
	LabelRevision = "org.opencontainers.image.revision"
	// LabelSource is the app's git origin URL without userinfo, when known.
	LabelSource = "org.opencontainers.image.source"
	// LabelPredeploy is the digest of the image an app.json predeploy
	// script ran on, on the image it made of it (SPEC.md §7).
	LabelPredeploy = "io.paas.predeploy"
	// The labels CNB platforms write, for tools made for CNB images
	// (SPEC.md §2c): the build's buildpacks and processes, the run image
	// and its top layer, and the stack's id.
	LabelCNBBuild     = "io.buildpacks.build.metadata"
	LabelCNBLifecycle = "io.buildpacks.lifecycle.metadata"
	LabelCNBStackID   = "io.buildpacks.stack.id"
)

// Labels in the config of a stack image that paas creates (SPEC.md §6), so
// tools and people can tell what a stack was made from.
const (
	// LabelStackName is the stack's name; a stack given as a path is
	// known by it.
	LabelStackName = "io.paas.stack.name"
	// LabelStackSuite is the Debian suite the stack was made from.
	LabelStackSuite = "io.paas.stack.suite"
	// LabelStackPackages is the comma-separated list of packages
	// installed on top of minbase.
	LabelStackPackages = "io.paas.stack.packages"
)

// Annotations on the manifest of an app image (SPEC.md §4): the stack's run
// image it was placed on, which is what a later rebase needs.
const (
	// AnnotationBaseName is the run image's name.
	AnnotationBaseName = "org.opencontainers.image.base.name"
	// AnnotationBaseDigest is the run image's manifest digest.
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Annotations on the entries of an OCI layout's index.json: the store's
// (SPEC.md §5) and those of oci: and oci-archive: outputs (SPEC.md §1).
const (
	// AnnotationRefName names an entry (NAME:TAG), as skopeo and umoci
	// name them; Load selects an image by it.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationKind is the store namespace of a tag: "image" or "stack"
	// (see Kind).
	AnnotationKind = "io.paas.kind"
	// AnnotationContainerdName is the fully qualified reference
	// (docker.io/library/app:latest) that containerd's importer takes an
	// image's name from; without it `ctr import` of an OCI archive names
	// the image after the bare ref.name.
	AnnotationContainerdName = "io.containerd.image.name"
)
