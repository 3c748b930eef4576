package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

const (
	headerRequestID    = "X-Request-Id"
	headerRequestStart = "X-Request-Start"
	headerFor          = "X-Forwarded-For"
	headerProto        = "X-Forwarded-Proto"
	headerHost         = "X-Forwarded-Host"
	headerPort         = "X-Forwarded-Port"
)

// Bounds of a client's X-Request-Id that is kept, Heroku's router rule.
const (
	minRequestID = 20
	maxRequestID = 200
)

// rewrite returns the ReverseProxy hook that aims a request at target.
// ReverseProxy has already removed the incoming X-Forwarded-* headers
// that this hook sets again.
func (p *Proxy) rewrite(target *url.URL) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		// The app sees the Host the client asked for, as behind Dokku's
		// nginx: apps build absolute URLs and check allowed hosts with it.
		pr.Out.Host = pr.In.Host
		p.setForwarded(pr.In, pr.Out.Header)
		x := exchangeFrom(pr.In.Context())
		pr.Out.Header.Set(headerRequestID, x.id)
		pr.Out.Header.Set(headerRequestStart, "t="+strconv.FormatInt(x.start.UnixMilli(), 10))
	}
}

// setForwarded tells the app who connected and how, in out.
func (p *Proxy) setForwarded(in *http.Request, out http.Header) {
	out.Set(headerFor, clientIP(in))
	out.Set(headerProto, scheme(in))
	out.Set(headerHost, in.Host)
	out.Set(headerPort, localPort(in))
	if p.opts.TrustForwarded {
		keepForwarded(in.Header, out)
	}
}

// keepForwarded carries a trusted front proxy's X-Forwarded-* headers
// over, appending our peer to its X-Forwarded-For chain.
func keepForwarded(in, out http.Header) {
	if prior := in.Values(headerFor); len(prior) > 0 {
		out.Set(headerFor, strings.Join(prior, ", ")+", "+out.Get(headerFor))
	}
	for _, k := range []string{headerProto, headerHost, headerPort} {
		if v := in.Get(k); v != "" {
			out.Set(k, v)
		}
	}
}

// clientIP returns the address of the peer that sent r.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// scheme returns "https" when r came over TLS, else "http".
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// localPort returns the port r was received on, the proxy's public port.
func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// requestID returns the client's X-Request-Id if it is a valid one, so a
// request can be followed across proxies, else a new random id.
func requestID(h http.Header) string {
	if id := h.Get(headerRequestID); validRequestID(id) {
		return id
	}
	return newRequestID()
}

// validRequestID applies Heroku's router rule: 20 to 200 characters of
// letters, digits, '+', '/', '=' and '-'. It also keeps anything that
// could forge an extra access-log field out of the log.
func validRequestID(id string) bool {
	if len(id) < minRequestID || len(id) > maxRequestID {
		return false
	}
	for _, c := range []byte(id) {
		if !isIDByte(c) {
			return false
		}
	}
	return true
}

// isIDByte reports whether c may appear in a request id.
func isIDByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '+' || c == '/' || c == '=' || c == '-'
}

// newRequestID returns 16 random bytes as 32 hex digits.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails, per crypto/rand
	return hex.EncodeToString(b[:])
}
