// Package health decides when a newly started process may get traffic.
//
// Wait first waits for the process's port to accept connections, then
// runs the app's startup and readiness checks: HTTP paths that must answer
// 2xx (optionally with given content) within attempt, timeout and wait
// limits, and uptimes the process must survive. ParseAppJSON reads these
// checks from app.json's `healthchecks` key, the format Dokku uses; with
// no checks, Wait applies Dokku's default of 10 seconds of uptime.
//
// A failed Wait says exactly what failed, so `paas run` can print it next
// to the process's last log lines and keep the old process serving.
package health
