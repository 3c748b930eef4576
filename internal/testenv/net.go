package testenv

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Serve serves h on a loopback port until the test ends and returns the
// port's address ("127.0.0.1:PORT"), as an app process listens on $PORT.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// ClosedAddr returns a loopback address nothing listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
