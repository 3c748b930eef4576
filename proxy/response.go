package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// The app's response head is read by http.ReadResponse, except in the
// common case, which is parsed here at a fraction of the cost: a final
// HTTP/1.1 answer whose head has arrived whole in the connection's read
// buffer, whose body has a Content-Length or is empty by rule, with nothing
// that needs more than copying its header fields. Anything else (chunked
// or close-delimited bodies, 1xx, other versions, folded lines, bare LFs,
// a Pragma that ReadResponse would turn into Cache-Control, any byte the
// rules below do not expect) goes to http.ReadResponse, so the answers the
// client gets are the same either way.

// maxQuickFields bounds the header fields of a head parsed quickly.
const maxQuickFields = 32

// quickField is one header field of a head being parsed: the offsets of
// its name and value in the head.
type quickField struct {
	name, value [2]int
}

// quickResponse parses the head at the start of u's read buffer when it
// can, writing its end-to-end header fields straight into the client's
// header map h (the app's X-Request-Id aside), and consumes it. It returns
// nil when the head is not one it takes, with nothing consumed. The
// response it returns has a nil Header, its fields being in h already,
// and is reused by u's next request.
func quickResponse(u *upstream, r *http.Request, h http.Header) *http.Response {
	buf, _ := u.br.Peek(u.br.Buffered()) // what is buffered: cannot fail
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	head := buf[:end+2] // with the last field's CRLF
	code, rest, ok := quickStatus(head)
	if !ok {
		return nil
	}
	var fields [maxQuickFields]quickField
	n, length, closing, ok := quickFields(head, len(head)-len(rest), fields[:])
	if !ok {
		return nil
	}
	bodyless := r.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if length < 0 && !bodyless {
		return nil // the body ends when the connection does
	}

	s := string(head) // one allocation holds every name and value
	vals := make([]string, n)
	var named []string // what Connection names is hop-by-hop
	for _, f := range fields[:n] {
		if strings.EqualFold(s[f.name[0]:f.name[1]], "Connection") {
			named = append(named, s[f.value[0]:f.value[1]])
		}
	}
	for i, f := range fields[:n] {
		name := textproto.CanonicalMIMEHeaderKey(s[f.name[0]:f.name[1]]) // no allocation when canonical already
		if isHop(name) || name == headerRequestID || hasToken(named, name) {
			continue
		}
		vals[i] = s[f.value[0]:f.value[1]]
		if vv, ok := h[name]; ok {
			h[name] = append(vv, vals[i])
		} else {
			h[name] = vals[i : i+1 : i+1]
		}
	}
	_, _ = u.br.Discard(end + 4) // buffered: cannot fail

	u.res = http.Response{
		StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: length, Close: closing, Body: http.NoBody,
	}
	if !bodyless && length > 0 {
		u.body = fixedBody{r: u.br, n: length}
		u.res.Body = &u.body
	}
	return &u.res
}

// quickStatus parses a status line "HTTP/1.1 NNN reason" with a final
// status (200 to 599) and returns the code and what follows the line.
func quickStatus(head []byte) (code int, rest []byte, ok bool) {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	const proto = "HTTP/1.1 "
	if len(line) < len(proto)+3 || string(line[:len(proto)]) != proto {
		return 0, nil, false
	}
	d := line[len(proto) : len(proto)+3]
	if d[0] < '2' || d[0] > '5' || !isDigit(d[1]) || !isDigit(d[2]) {
		return 0, nil, false
	}
	if reason := line[len(proto)+3:]; len(reason) > 0 && (reason[0] != ' ' || !isFieldValue(reason)) {
		return 0, nil, false
	}
	return int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0'), rest, true
}

// quickFields parses the field lines of head from offset at into fields,
// returning how many there are, the Content-Length (-1 without one) and
// whether the connection closes after the body ("Connection: close").
func quickFields(head []byte, at int, fields []quickField) (n int, length int64, closing, ok bool) {
	length = -1
	for at < len(head) {
		eol := bytes.Index(head[at:], []byte("\r\n")) + at // head ends in CRLF
		line := head[at:eol]
		colon := bytes.IndexByte(line, ':')
		if n == len(fields) || colon <= 0 || !isToken(line[:colon]) {
			return 0, 0, false, false
		}
		vs, ve := at+colon+1, eol
		for vs < ve && (head[vs] == ' ' || head[vs] == '\t') {
			vs++
		}
		for ve > vs && (head[ve-1] == ' ' || head[ve-1] == '\t') {
			ve--
		}
		name, value := line[:colon], head[vs:ve]
		if !isFieldValue(value) {
			return 0, 0, false, false
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length >= 0 || len(value) == 0 || len(value) > 18 || !isDigits(value) {
				return 0, 0, false, false // several, or one ReadResponse must judge
			}
			length = parseDigits(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Trailer")),
			bytes.EqualFold(name, []byte("Pragma")):
			return 0, 0, false, false
		case bytes.EqualFold(name, []byte("Connection")):
			closing = closing || hasToken([]string{string(value)}, "close")
		}
		fields[n] = quickField{name: [2]int{at, at + colon}, value: [2]int{vs, ve}}
		n++
		at = eol + 2
	}
	return n, length, closing, true
}

// isToken reports whether b is a non-empty header field name (RFC 9110
// token characters).
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return len(b) > 0
}

// isTokenByte reports whether c may appear in a token.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// isFieldValue reports whether b holds only what a field value (or a
// reason phrase) may: tabs, visible ASCII, spaces and obs-text.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isDigits reports whether b is all ASCII digits.
func isDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// parseDigits returns the value of at most 18 ASCII digits.
func parseDigits(b []byte) int64 {
	var v int64
	for _, c := range b {
		v = v*10 + int64(c-'0')
	}
	return v
}

// fixedBody reads a body of known length from the connection's buffer.
type fixedBody struct {
	r *bufio.Reader
	n int64 // bytes left
}

// Read reads at most what is left of the body; a connection that ends
// before is io.ErrUnexpectedEOF.
func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close does nothing: the connection is kept or closed by its request.
func (b *fixedBody) Close() error { return nil }
