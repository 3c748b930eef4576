package proxy

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
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

// appendRequestHead appends the request line and headers that send r to
// the app at addr: the client's headers but the hop-by-hop ones (and
// those its Connection header names) and those in which a client could
// claim an address or scheme (see forwardable), then the headers that
// tell the app about the client, then the body's framing. The headers
// paas sets come after the client's are filtered, so a name listed in the
// client's Connection header cannot remove them. The app sees the Host
// the client asked for, as behind Dokku's nginx: apps build absolute URLs
// and check allowed hosts with it. Everything taken from r was checked by
// net/http's server when it read the request (no control characters in
// the method, target, host or header values), so it is written as is.
func appendRequestHead(b []byte, r *http.Request, x *exchange, trust bool, addr, upType string) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = appendRequestURI(b, r.URL)
	b = append(b, " HTTP/1.1\r\n"...)
	host := r.Host
	if host == "" {
		host = addr
	}
	b = appendHeader(b, "Host", host)
	named := r.Header["Connection"]
	for k, vv := range r.Header {
		if !forwardable(k, named) {
			continue
		}
		for _, v := range vv {
			if v != "" || k != "User-Agent" { // as http.Transport: no empty User-Agent
				b = appendHeader(b, k, v)
			}
		}
	}
	// Te and Upgrade are hop-by-hop, yet the app must know that the
	// client takes trailers or asks to switch protocols.
	if hasToken(r.Header["Te"], "trailers") {
		b = appendHeader(b, "Te", "trailers")
	}
	if upType != "" {
		b = appendHeader(b, "Connection", "Upgrade")
		b = appendHeader(b, "Upgrade", upType)
	}
	var f forwarded
	if trust {
		f = trustedForwarded(r.Header)
	}
	b = f.append(b, r)
	b = appendHeader(b, headerRequestID, x.id)
	b = append(b, headerRequestStart+": t="...)
	b = strconv.AppendInt(b, x.start.UnixMilli(), 10)
	b = append(b, "\r\n"...)
	return append(appendFraming(b, r), "\r\n"...)
}

// appendHeader appends one header line.
func appendHeader(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// appendFraming appends the headers that frame r's body for the app: its
// length when known, else chunked encoding (with the trailers the client
// announced), and, as http.Transport does, a zero length for the methods
// that expect a body but have none.
func appendFraming(b []byte, r *http.Request) []byte {
	switch {
	case !hasBody(r):
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			b = appendHeader(b, "Content-Length", "0")
		}
	case r.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	default:
		b = appendHeader(b, "Transfer-Encoding", "chunked")
		if len(r.Trailer) > 0 {
			b = appendHeader(b, "Trailer", strings.Join(keys(r.Trailer), ", "))
		}
	}
	return b
}

// forwardable reports whether the client's header k is sent to the app.
// Besides the hop-by-hop headers, the framing that paas writes itself and
// the headers paas sets, it drops the client's forwarding headers and
// every header whose name holds an underscore. The latter is nginx's
// default (underscores_in_headers off): CGI-style servers (WSGI, Rack,
// PHP) turn both X-Real-Ip and X_Real_Ip into HTTP_X_REAL_IP, so an
// underscore spelling would slip a forged value past the names above.
func forwardable(k string, named []string) bool {
	switch k {
	case "Host", "Content-Length", headerRequestID, headerRequestStart:
		return false
	}
	if isHop(k) {
		return false
	}
	if clientAddressHeaders[k] || hasPrefixFold(k, forwardedPrefix) || strings.IndexByte(k, '_') >= 0 {
		return false
	}
	return len(named) == 0 || !hasToken(named, k)
}

// isHop reports whether the header named k (canonical) is hop-by-hop: it
// describes one connection, not the message, and is removed from requests
// and responses as they pass, with those a message's Connection header
// names. The list is ReverseProxy's.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeHopByHop deletes the hop-by-hop headers from a response.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				h.Del(f)
			}
		}
	}
	for k := range h {
		if isHop(k) {
			delete(h, k)
		}
	}
}

// hasToken reports whether the comma-separated values hold token,
// ignoring ASCII case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(textproto.TrimString(f), token) {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// forwarded holds what a trusted front proxy said about the client; an
// empty field means paas says it from its own connection.
type forwarded struct {
	chain, realIP, proto, host, port string
}

// trustedForwarded takes a trusted front proxy's X-Forwarded-* headers.
// X-Real-Ip becomes the last address of its X-Forwarded-For chain, the one
// the front proxy itself saw (nginx's real_ip with one trusted hop): the
// addresses before it came from the client and may be forged.
func trustedForwarded(in http.Header) forwarded {
	var f forwarded
	if prior := in.Values(headerFor); len(prior) > 0 {
		f.chain = strings.Join(prior, ", ")
		f.realIP = lastAddress(f.chain)
	}
	f.proto = in.Get(headerProto)
	f.host = in.Get(headerHost)
	f.port = in.Get(headerPort)
	return f
}

// append appends the headers that tell the app who connected and how:
// X-Forwarded-For (the front proxy's chain, if trusted, with our peer
// appended), X-Real-Ip, X-Forwarded-Proto, -Host and -Port.
func (f forwarded) append(b []byte, r *http.Request) []byte {
	peer := clientIP(r)
	b = append(b, headerFor+": "...)
	if f.chain != "" {
		b = append(b, f.chain...)
		b = append(b, ", "...)
	}
	b = append(b, peer...)
	b = append(b, "\r\n"...)
	b = appendHeader(b, headerRealIP, cmp.Or(f.realIP, peer))
	b = appendHeader(b, headerProto, cmp.Or(f.proto, scheme(r)))
	b = appendHeader(b, headerHost, cmp.Or(f.host, r.Host))
	b = append(b, headerPort+": "...)
	if f.port != "" {
		b = append(b, f.port...)
	} else {
		b = appendLocalPort(b, r)
	}
	return append(b, "\r\n"...)
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

// appendLocalPort appends the port r was received on, the proxy's public
// port.
func appendLocalPort(b []byte, r *http.Request) []byte {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		return strconv.AppendInt(b, int64(a.Port), 10)
	case net.Addr:
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return append(b, port...)
		}
	}
	if r.TLS != nil {
		return append(b, "443"...)
	}
	return append(b, "80"...)
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

// newRequestID returns 16 random bytes as 32 hex digits. An id need not
// be secret, only unique: math/rand/v2's generator (ChaCha8, seeded by
// the runtime from the system) costs no system call.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
