package lifecycle

import "errors"

// Failure classes. Every error Build returns wraps exactly one of these, so
// the CLI can map it to its documented exit code with errors.Is.
var (
	// ErrApp: the app directory is missing, not a directory or unreadable.
	ErrApp = errors.New("app directory problem")
	// ErrDetect: no buildpack detected the app, or an explicitly chosen
	// buildpack's detect rejected it.
	ErrDetect = errors.New("detect failed")
	// ErrBuildpack: a buildpack could not be fetched or is malformed.
	ErrBuildpack = errors.New("invalid buildpack")
	// ErrCompile: a buildpack's bin/compile failed.
	ErrCompile = errors.New("compile failed")
	// ErrRelease: a buildpack's bin/release failed or printed invalid YAML.
	ErrRelease = errors.New("release failed")
	// ErrProcfile: the app's Procfile is malformed.
	ErrProcfile = errors.New("malformed Procfile")
	// ErrExport: the image could not be assembled.
	ErrExport = errors.New("export failed")
	// ErrTimeout: the build, or a detect or release script, ran past its
	// time limit.
	ErrTimeout = errors.New("timed out")
)
