package sandbox

import (
	"errors"
	"io"

	"github.com/paas-dev/paas/layers"
)

// reportedErrors are the errors whose identity a report keeps across the
// init's process boundary, so that an unpack in the init fails the way
// layers.Unpack in the caller would, and a refused overlay is told from
// other failures: errors.Is still finds them.
var reportedErrors = []error{layers.ErrUnsafeEntry, layers.ErrLimit, io.ErrUnexpectedEOF, ErrNoOverlay}

// errorReport reports err with its message, the errno it wraps (ENOSPC,
// say) and which of reportedErrors it wraps.
func errorReport(err error) report {
	rep := report{Error: err.Error()}
	errors.As(err, &rep.Errno)
	for i, e := range reportedErrors {
		if errors.Is(err, e) {
			rep.Is = append(rep.Is, i)
		}
	}
	return rep
}

// causes returns the errors errorReport found in the init's error.
func (r report) causes() []error {
	var out []error
	if r.Errno != 0 {
		out = append(out, r.Errno)
	}
	for _, i := range r.Is {
		if i >= 0 && i < len(reportedErrors) {
			out = append(out, reportedErrors[i])
		}
	}
	return out
}

// initError is an error the init reported: its message, wrapping the
// causes the report carried.
type initError struct {
	msg    string
	causes []error
}

func (e *initError) Error() string   { return e.msg }
func (e *initError) Unwrap() []error { return e.causes }
