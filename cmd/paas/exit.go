package main

import (
	"errors"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/fault"
)

// exitOK is the exit status of success. Every other status comes from the
// failure's class (fault.Kind), which SPEC.md lists with its code.
const exitOK = 0

// usageError marks errors in how paas was called.
type usageError struct{ msg string }

func (e usageError) Error() string    { return e.msg }
func (e usageError) Kind() fault.Kind { return fault.Usage }

// errInterrupted marks a failure that followed Ctrl-C or SIGTERM.
var errInterrupted = fault.New(fault.Interrupted, "interrupted")

// exitCode maps err to paas's exit status: the code of err's class, or a
// one-off command's own status when nothing classified the failure (an
// interrupted paas exits 130 whatever the command's status was).
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	kind := fault.KindOf(err)
	var oneOff deploy.ExitError
	if kind == fault.Failure && errors.As(err, &oneOff) {
		return oneOff.Code
	}
	return kind.ExitCode()
}
