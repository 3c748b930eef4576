// Package secret keeps credentials out of what paas prints and records.
// Buildpack references, git origins and package index URLs may carry a
// token as URL userinfo (https://user:token@host/…); paas needs the full
// URL to fetch, but labels, --json, logs and error messages get it
// without the userinfo.
package secret

import "regexp"

// userinfo matches the userinfo of every URL in a text: after a scheme's
// "://", anything up to the last '@' before the host's end. An unescaped
// '@' in a password is covered, since the match runs to the last one.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@`)

// Redact removes the userinfo of every URL in s.
func Redact(s string) string {
	return userinfo.ReplaceAllString(s, "$1")
}
