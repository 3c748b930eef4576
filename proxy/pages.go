package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// errorPage answers a request the app could not be reached for or did
// not answer. The client gets a short page; the cause goes to the access
// log only, since it names internal addresses.
func (p *Proxy) errorPage(x *exchange, r *http.Request, err error) {
	x.err = err
	// A failed body read comes first: net/http cancels the request's
	// context when a read on the connection fails, yet the client that
	// sent the body too slowly is still there to read why.
	if x.body != nil {
		if berr := x.body.failure(); berr != nil {
			p.bodyErrorPage(x, berr)
			return
		}
	}
	if r.Context().Err() != nil {
		dropConnection(x) // nobody is left to read a page, or Serve cuts requests off
	}
	if isTimeout(err) {
		p.page(x, http.StatusGatewayTimeout, fmt.Sprintf("%s did not answer in time.", p.appName()))
		return
	}
	p.page(x, http.StatusBadGateway, fmt.Sprintf("%s is not answering. It may be starting, restarting or down.", p.appName()))
}

// bodyErrorPage answers a request whose body could not be read from the
// client: 408, as nginx does, when it came too slowly, else 400; a client
// that went away mid-body is only logged. The connection is closed: what
// is left of the body is unread.
func (p *Proxy) bodyErrorPage(x *exchange, err error) {
	x.err = err
	if errors.Is(err, io.ErrUnexpectedEOF) {
		dropConnection(x)
	}
	x.Header().Set("Connection", "close")
	if isTimeout(err) {
		p.page(x, http.StatusRequestTimeout, "The request body came too slowly.")
		return
	}
	p.page(x, http.StatusBadRequest, "The request body could not be read.")
}

// dropConnection ends a request whose client went away, or that Serve cuts
// off, by closing its connection: returning would make net/http answer an
// empty 200 to a client still reading. It panics with http.ErrAbortHandler,
// which net/http takes as that request; the access log shows status 499.
func dropConnection(x *exchange) {
	x.status = statusClientClosed
	panic(http.ErrAbortHandler)
}

// unavailablePage answers 503 while no backend is set.
func (p *Proxy) unavailablePage(w http.ResponseWriter, reason string) {
	w.Header().Set("Retry-After", "5")
	p.page(w, http.StatusServiceUnavailable, fmt.Sprintf("%s is unavailable: %s.", p.appName(), reason))
}

// page writes a short plain-text error page that no cache keeps.
func (p *Proxy) page(w http.ResponseWriter, code int, detail string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s\n\n%s\n", code, http.StatusText(code), detail)
}

// appName names the app on error pages.
func (p *Proxy) appName() string {
	if p.opts.Name == "" {
		return "The app"
	}
	return "The app " + strconv.Quote(p.opts.Name)
}

// isTimeout reports whether err is a network timeout, such as the
// transport's ResponseHeaderTimeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
