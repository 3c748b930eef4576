package buildpack

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers map to exit codes with errors.Is.
var (
	// ErrInvalid means the buildpack itself is unusable: bin/detect or
	// bin/compile missing or not executable, or an unsafe archive.
	ErrInvalid = errors.New("invalid buildpack")
	// ErrFetch means the buildpack could not be obtained: an unreachable or
	// failing URL, an unknown git ref, a missing path, or no git installed.
	ErrFetch = errors.New("fetching buildpack failed")
)

// refError names the reference and the problem; it matches its class
// (ErrInvalid, ErrFetch) and the underlying error with errors.Is.
type refError struct {
	ref   string
	class error
	err   error
}

func (e *refError) Error() string { return "buildpack " + e.ref + ": " + e.err.Error() }

func (e *refError) Unwrap() []error {
	if e.class == nil {
		return []error{e.err}
	}
	return []error{e.class, e.err}
}

// named makes err name ref, unless it already does.
func named(ref string, err error) error {
	var re *refError
	if err == nil || errors.As(err, &re) {
		return err
	}
	return &refError{ref: ref, err: err}
}

// invalidf returns an ErrInvalid error about ref.
func invalidf(ref, format string, args ...any) error {
	return &refError{ref: ref, class: ErrInvalid, err: fmt.Errorf(format, args...)}
}

// fetchf returns an ErrFetch error about ref; format may use %w.
func fetchf(ref, format string, args ...any) error {
	return &refError{ref: ref, class: ErrFetch, err: fmt.Errorf(format, args...)}
}
