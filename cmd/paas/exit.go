package main

import (
	"errors"
	"syscall"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
	"github.com/paas-dev/paas/supervisor"
)

// Exit codes are part of paas's interface; SPEC.md lists them.
const (
	exitOK          = 0
	exitFailure     = 1  // anything not classified below
	exitUsage       = 2  // bad flags or arguments
	exitApp         = 3  // app directory missing, not a directory, unreadable
	exitStack       = 4  // stack unknown or unusable
	exitSandbox     = 5  // user namespaces unavailable
	exitNotFound    = 6  // image not in the store
	exitDetect      = 10 // no buildpack detected / buildpack rejected the app
	exitBuildpack   = 11 // buildpack could not be fetched or is malformed
	exitCompile     = 12 // bin/compile failed
	exitRelease     = 13 // bin/release failed or printed invalid YAML
	exitProcfile    = 14 // malformed Procfile
	exitTimeout     = 15 // the build or a detect/release script ran past its limit
	exitExport      = 20 // image could not be assembled or stored
	exitDiskFull    = 21 // no space left while writing
	exitOutput      = 22 // --output or --push failed
	exitNotReady    = 30 // paas run: the process never passed its checks
	exitCrashLoop   = 31 // paas run: the process kept exiting past --restart
	exitRuntime     = 32 // paas run: the runtime (containerd, sandbox) cannot be used
	exitInterrupted = 130
)

// usageError marks errors in how paas was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

var exitClasses = []struct {
	err  error
	code int
}{
	// Before ENOSPC: the kernel reports a user namespace limit as ENOSPC.
	{sandbox.ErrUnavailable, exitSandbox},
	{syscall.ENOSPC, exitDiskFull},
	{lifecycle.ErrApp, exitApp},
	{stacks.ErrUnusable, exitStack},
	{oci.ErrNotFound, exitNotFound},
	{lifecycle.ErrDetect, exitDetect},
	{lifecycle.ErrBuildpack, exitBuildpack},
	{lifecycle.ErrCompile, exitCompile},
	{lifecycle.ErrRelease, exitRelease},
	{lifecycle.ErrProcfile, exitProcfile},
	{lifecycle.ErrTimeout, exitTimeout},
	{lifecycle.ErrExport, exitExport},
	{builder.ErrOutput, exitOutput},
	{supervisor.ErrNotReady, exitNotReady},
	{supervisor.ErrCrashLoop, exitCrashLoop},
	{deploy.ErrRuntime, exitRuntime},
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	var oneOff deploy.ExitError
	if errors.As(err, &oneOff) {
		return oneOff.Code
	}
	for _, c := range exitClasses {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	if errors.Is(err, errInterrupted) {
		return exitInterrupted
	}
	return exitFailure
}
