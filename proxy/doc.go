// Package proxy is the reverse proxy paas puts in front of an app's web
// process, the part Dokku leaves to nginx.
//
// A Proxy forwards every request to one Backend (the process listening on
// its $PORT) and adds the X-Forwarded-* and X-Request-* headers apps expect
// from Heroku's router. Switch points new requests at a new process in one
// atomic step and hands back the old Backend, whose Drain waits for the
// requests (and upgraded WebSocket connections) still running on it; this
// is what makes a zero-downtime restart possible.
//
// Clients are assumed hostile: headers in which they could claim another
// address or scheme never reach the app, and Serve holds connections to
// read and write timeouts, a minimum request-body rate and a connection
// limit (Options), so slow or idle clients cannot tie the proxy up.
package proxy
