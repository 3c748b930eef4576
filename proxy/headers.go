package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
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
	headerRealIP       = "X-Real-Ip"
)

// clientAddressHeaders are the headers, besides every X-Forwarded-*, in
// which proxies, CDNs and load balancers tell an app who the client is
// (Forwarded, nginx's X-Real-IP, Akamai's and Cloudflare's
// True-Client-IP, Cloudflare's CF-Connecting-IP, Fastly's, ingress-nginx's
// X-Original-Forwarded-For, and the ones frameworks such as Rails, Django
// and Symfony read: Client-IP, X-Client-IP, X-Cluster-Client-IP…). A
// client's copy is always removed: apps trust them for rate limits, audit
// logs and allow lists, and only paas knows the client. The keys are in
// canonical form, as net/http stores request headers.
var clientAddressHeaders = map[string]bool{
	"Forwarded":                true,
	"Forwarded-For":            true,
	"X-Forwarded":              true,
	"X-Real-Ip":                true,
	"True-Client-Ip":           true,
	"X-Client-Ip":              true,
	"Client-Ip":                true,
	"X-Cluster-Client-Ip":      true,
	"Cf-Connecting-Ip":         true,
	"Cf-Connecting-Ipv6":       true,
	"Fastly-Client-Ip":         true,
	"X-Original-Forwarded-For": true,
	"X-Originating-Ip":         true,
	"X-Remote-Ip":              true,
	"X-Remote-Addr":            true,
}

// forwardedPrefix starts every header of the X-Forwarded-* family
// (-For, -Proto, -Host, -Port, -Ssl, -Scheme, -Server, -Prefix, …).
const forwardedPrefix = "X-Forwarded-"

// Bounds of a client's X-Request-Id that is kept, Heroku's router rule.
const (
	minRequestID = 20
	maxRequestID = 200
)

// rewrite returns the ReverseProxy hook that aims a request at target and
// sets the headers that tell the app about the client. ReverseProxy has
// already removed the hop-by-hop headers (and those the client named in
// Connection) when it runs, so whatever it sets reaches the app.
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

// setForwarded tells the app who connected and how, in out, after
// removing every client-supplied header that claims to say so.
func (p *Proxy) setForwarded(in *http.Request, out http.Header) {
	stripClientForwarding(out)
	peer := clientIP(in)
	out.Set(headerFor, peer)
	out.Set(headerRealIP, peer)
	out.Set(headerProto, scheme(in))
	out.Set(headerHost, in.Host)
	out.Set(headerPort, localPort(in))
	if p.opts.TrustForwarded {
		keepForwarded(in.Header, out)
	}
}

// stripClientForwarding deletes from h the client's forwarding headers
// and every header whose name holds an underscore. The latter is nginx's
// default (underscores_in_headers off): CGI-style servers (WSGI, Rack,
// PHP) turn both X-Real-Ip and X_Real_Ip into HTTP_X_REAL_IP, so an
// underscore spelling would slip a forged value past the names above. It
// runs after ReverseProxy removed the hop-by-hop headers, so a name listed
// in the client's Connection header cannot remove what paas sets next.
func stripClientForwarding(h http.Header) {
	for k := range h {
		if clientAddressHeaders[k] || hasPrefixFold(k, forwardedPrefix) || strings.IndexByte(k, '_') >= 0 {
			delete(h, k)
		}
	}
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// keepForwarded carries a trusted front proxy's X-Forwarded-* headers
// over, appending our peer to its X-Forwarded-For chain. X-Real-Ip
// becomes the last address of that chain, the one the front proxy itself
// saw (nginx's real_ip with one trusted hop): the addresses before it
// came from the client and may be forged.
func keepForwarded(in, out http.Header) {
	if prior := in.Values(headerFor); len(prior) > 0 {
		chain := strings.Join(prior, ", ")
		out.Set(headerFor, chain+", "+out.Get(headerFor))
		if ip := lastAddress(chain); ip != "" {
			out.Set(headerRealIP, ip)
		}
	}
	for _, k := range []string{headerProto, headerHost, headerPort} {
		if v := in.Get(k); v != "" {
			out.Set(k, v)
		}
	}
}

// lastAddress returns the last element of an X-Forwarded-For chain if it
// is an IP address, else "".
func lastAddress(chain string) string {
	last := chain[strings.LastIndexByte(chain, ',')+1:]
	addr, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return ""
	}
	return addr.String()
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
