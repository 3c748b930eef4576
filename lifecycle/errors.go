package lifecycle

import "github.com/paas-dev/paas/fault"

// Failure classes. Build and Export put one of these in front of the cause
// of a failure they can classify, so that the error carries its class (and
// exit code) however the caller wraps it.
var (
	// ErrApp: the app directory is missing, not a directory or unreadable.
	ErrApp = fault.New(fault.App, "app directory problem")
	// ErrDetect: no buildpack detected the app, or an explicitly chosen
	// buildpack's detect rejected it.
	ErrDetect = fault.New(fault.Detect, "detect failed")
	// ErrBuildpack: a buildpack could not be fetched or is malformed.
	ErrBuildpack = fault.New(fault.Buildpack, "invalid buildpack")
	// ErrCompile: a buildpack's bin/compile failed.
	ErrCompile = fault.New(fault.Compile, "compile failed")
	// ErrRelease: a buildpack's bin/release failed or printed invalid YAML.
	ErrRelease = fault.New(fault.Release, "release failed")
	// ErrProcfile: the app's Procfile is malformed.
	ErrProcfile = fault.New(fault.Procfile, "malformed Procfile")
	// ErrExport: the image could not be assembled or stored.
	ErrExport = fault.New(fault.Export, "export failed")
	// ErrTimeout: the build, or a detect or release script, ran past its
	// time limit.
	ErrTimeout = fault.New(fault.Timeout, "timed out")
)
