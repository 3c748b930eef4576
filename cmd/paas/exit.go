package main

import (
	"errors"

	"github.com/paas-dev/paas/fault"
)

// exitOK is the exit status of success. Every other status comes from the
// failure's class (fault.Kind), which SPEC.md lists with its code.
const exitOK = 0

// usageError marks errors in how paas was called.
type usageError struct{ msg string }

func (e usageError) Error() string    { return e.msg }
func (e usageError) Kind() fault.Kind { return fault.Usage }

// Sentinels for failures classified by the CLI itself.
var (
	errStack       = fault.New(fault.Stack, "stack problem")
	errOutput      = fault.New(fault.Output, "output failed")
	errRuntime     = fault.New(fault.Runtime, "runtime unavailable")
	errInterrupted = fault.New(fault.Interrupted, "interrupted")
)

// exitCode maps err to paas's exit status: the code of err's class, or a
// one-off command's own status when nothing classified the failure (an
// interrupted paas exits 130 whatever the command's status was).
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	kind := fault.KindOf(err)
	var oneOff exitCodeError
	if kind == fault.Failure && errors.As(err, &oneOff) {
		return oneOff.code
	}
	return kind.ExitCode()
}
