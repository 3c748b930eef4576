package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// upgradeType returns the protocol a request or response asks to switch
// to (WebSocket, h2c): its Upgrade header when its Connection header
// names "upgrade", else "". A protocol name that is not printable ASCII
// is an error, as in ReverseProxy.
func upgradeType(h http.Header) (string, error) {
	if !hasToken(h["Connection"], "upgrade") {
		return "", nil
	}
	t := h.Get("Upgrade")
	if !isPrint(t) {
		return "", fmt.Errorf("client tried to switch to invalid protocol %q", t)
	}
	return t, nil
}

// switchProtocols completes a 101 Switching Protocols answer: the client's
// connection is taken over from net/http and the bytes copied both ways
// until either side is done, as ReverseProxy does. The request stays in
// flight, so Drain waits for it, until then.
func (p *Proxy) switchProtocols(u *upstream, x *exchange, r *http.Request, res *http.Response, reqType string) {
	resType := ""
	if hasToken(res.Header["Connection"], "upgrade") {
		resType = res.Header.Get("Upgrade")
	}
	if !isPrint(resType) {
		p.errorPage(x, r, fmt.Errorf("backend tried to switch to invalid protocol %q", resType))
		return
	}
	if !strings.EqualFold(reqType, resType) {
		p.errorPage(x, r, fmt.Errorf("backend tried to switch protocol %q when %q was requested", resType, reqType))
		return
	}
	client, brw, err := http.NewResponseController(x).Hijack()
	if err != nil {
		p.errorPage(x, r, fmt.Errorf("switching protocols: %w", err))
		return
	}
	defer client.Close()
	x.status = res.StatusCode
	h := x.Header()
	for k, vv := range res.Header {
		if k != headerRequestID {
			h[k] = vv
		}
	}
	res.Header = h
	res.Body = nil // res.Write writes the head only
	if err := res.Write(brw); err != nil {
		x.err = err
		return
	}
	if err := brw.Flush(); err != nil {
		x.err = err
		return
	}
	// Bytes the client sent right after its request are in brw already.
	var fromClient io.Reader = client
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Peek(n) // buffered: cannot fail
		fromClient = io.MultiReader(bytes.NewReader(early), client)
	}
	done := make(chan error, 2)
	go func() { done <- tunnel(u.Conn, fromClient) }()
	go func() { done <- tunnel(client, u.br) }()
	// Both directions run until one ends without a half-close (an
	// error, or a side that cannot half-close); the deferred Closes then
	// end the other.
	for range 2 {
		if err := <-done; err != nil {
			return
		}
	}
}

// errTunnelDone is a tunnel direction that ended without a half-close.
var errTunnelDone = errors.New("tunnel direction done")

// tunnel copies src to dst, then half-closes dst so that its reader sees
// the end too; it returns nil only after a successful half-close, the
// other direction then still running.
func tunnel(dst net.Conn, src io.Reader) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errTunnelDone
}

// isPrint reports whether s is printable ASCII.
func isPrint(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
