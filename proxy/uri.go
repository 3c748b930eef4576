package proxy

import (
	"net/url"
	"strings"
)

// appendRequestURI appends the path and query the app is asked for: the
// client's, with a leading slash, and with a query that does not parse
// re-encoded, as ReverseProxy does, so that the app and any cache in
// front agree on its parameters (see cleanQuery).
func appendRequestURI(b []byte, u *url.URL) []byte {
	path := u.EscapedPath()
	if path == "" || path[0] != '/' {
		b = append(b, '/')
	}
	b = append(b, path...)
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, cleanQuery(u.RawQuery)...)
	}
	return b
}

// maxQueryParams is net/url's bound on the parameters of a query.
const maxQueryParams = 10000

// cleanQuery returns the query q, re-encoded from what parses of it when
// it holds a semicolon, a bad escape or too many parameters (ReverseProxy's
// cleanQueryParams).
func cleanQuery(q string) string {
	reencode := func(q string) string {
		v, _ := url.ParseQuery(q) // what parses is kept
		return v.Encode()
	}
	if strings.Count(q, "&")+1 > maxQueryParams {
		return reencode(q)
	}
	for i := 0; i < len(q); {
		switch q[i] {
		case ';':
			return reencode(q)
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return reencode(q)
			}
			i += 3
		default:
			i++
		}
	}
	return q
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
