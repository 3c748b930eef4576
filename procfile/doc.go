// Package procfile parses Heroku Procfiles, the app's list of process types
// ("web", "worker", "release", ...) and the shell command each one runs.
//
// Commands are kept verbatim: variable expansion and trailing "# comments"
// are the shell's business when the process starts, not the parser's.
package procfile
