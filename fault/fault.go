package fault

import (
	"errors"
	"syscall"
)

// Kind is a class of failure. The zero Kind is Failure: an error nobody
// classified.
type Kind uint8

// The classes of SPEC.md's exit code table, in its order.
const (
	Failure      Kind = iota // any other failure
	Usage                    // bad flags or arguments
	App                      // the app directory is missing, not a directory or unreadable
	Stack                    // the stack is unknown or unusable
	Sandbox                  // user namespaces are unavailable
	NotFound                 // the image is not in the store
	Detect                   // no buildpack detected the app, or a named one rejected it
	Buildpack                // a buildpack could not be fetched or is malformed
	Compile                  // a buildpack's bin/compile failed
	Release                  // a buildpack's bin/release failed or printed invalid YAML
	Procfile                 // the Procfile is malformed
	Timeout                  // the build, or a detect or release script, ran past its limit
	Export                   // an image could not be assembled or stored
	DiskFull                 // no space left on the device while writing
	Output                   // an --output or --push failed
	NotReady                 // paas run: the process never passed its checks
	CrashLoop                // paas run: the process kept exiting past the restart policy
	Runtime                  // paas run: the chosen runtime cannot be used
	ReleasePhase             // paas run: the release phase (Procfile release) failed
	Interrupted              // a signal stopped paas
	numKinds
)

var kinds = [numKinds]struct {
	name string
	code int
}{
	Failure:      {"failure", 1},
	Usage:        {"usage", 2},
	App:          {"app", 3},
	Stack:        {"stack", 4},
	Sandbox:      {"sandbox", 5},
	NotFound:     {"not found", 6},
	Detect:       {"detect", 10},
	Buildpack:    {"buildpack", 11},
	Compile:      {"compile", 12},
	Release:      {"release", 13},
	Procfile:     {"procfile", 14},
	Timeout:      {"timeout", 15},
	Export:       {"export", 20},
	DiskFull:     {"disk full", 21},
	Output:       {"output", 22},
	NotReady:     {"not ready", 30},
	CrashLoop:    {"crash loop", 31},
	Runtime:      {"runtime", 32},
	ReleasePhase: {"release phase", 33},
	Interrupted:  {"interrupted", 130},
}

// Kinds returns every Kind, so that a test can hold them against SPEC.md.
func Kinds() []Kind {
	all := make([]Kind, numKinds)
	for k := range all {
		all[k] = Kind(k)
	}
	return all
}

// ExitCode is the process exit status SPEC.md gives the class.
func (k Kind) ExitCode() int {
	if k >= numKinds {
		return kinds[Failure].code
	}
	return kinds[k].code
}

func (k Kind) String() string {
	if k >= numKinds {
		return "unknown kind"
	}
	return kinds[k].name
}

// classified is what an error implements to carry its class. Sentinels from
// New do; an error type of its own (such as the CLI's usage errors) can too.
type classified interface {
	error
	Kind() Kind
}

// sentinel is an error made by New. It is compared by identity, like the
// errors of errors.New, so errors.Is(err, ErrX) keeps working.
type sentinel struct {
	kind Kind
	msg  string
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Kind() Kind    { return e.kind }

// New returns a sentinel error of the class kind. Wrap the cause after it,
// fmt.Errorf("%w: reading %s: %w", ErrX, path, err), so that both the class
// and the cause stay visible to errors.Is.
func New(kind Kind, msg string) error { return &sentinel{kind: kind, msg: msg} }

// KindOf returns the class of err: that of the first classified error met
// walking err's tree in errors.As order. The outermost wrapper that names a
// class therefore decides, since it knows what paas was doing: a stack that
// cannot be unpacked because the sandbox is unavailable is a stack problem.
//
// One rule overrides this: syscall.ENOSPC anywhere in the tree makes the
// error DiskFull, whatever paas was writing (a stack, an image, an output),
// because the remedy is the same everywhere and lies outside paas. It does
// not count inside an error whose class is Sandbox, because the kernel
// reports an exhausted user-namespace limit as ENOSPC too, nor inside one
// of class Interrupted: once the user stopped paas, that is what it reports.
//
// A nil or unclassified error is Failure.
func KindOf(err error) Kind {
	if diskFull(err) {
		return DiskFull
	}
	var c classified
	if errors.As(err, &c) {
		return c.Kind()
	}
	return Failure
}

// diskFull reports whether err's tree holds an ENOSPC that is not inside
// an error of class Sandbox or Interrupted. It walks the tree one node at a
// time and asserts on each node: errors.As would look through the Sandbox
// and Interrupted errors the walk must stop at.
//
//nolint:errorlint // a node-by-node walk of the tree, as described above
func diskFull(err error) bool {
	if err == nil {
		return false
	}
	if errno, ok := err.(syscall.Errno); ok {
		return errno == syscall.ENOSPC
	}
	var c classified
	if errors.As(err, &c) && (c.Kind() == Sandbox || c.Kind() == Interrupted) {
		return false
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return diskFull(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if diskFull(e) {
				return true
			}
		}
	}
	return false
}
