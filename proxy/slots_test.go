package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paas-dev/paas/proxy"
)

// named is a backend that answers with its name.
func named(t *testing.T, name string) string {
	t.Helper()
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
}

// hits sends n requests through p, one after another, and counts the
// answers by body; any status but 200 counts under its code.
func hits(t *testing.T, p *proxy.Proxy, n int) map[string]int {
	t.Helper()
	srv := httptest.NewServer(p)
	defer srv.Close()
	got := map[string]int{}
	for range n {
		res, body := get(t, mustRequest(t, srv.URL+"/"))
		if res.StatusCode != http.StatusOK {
			body = fmt.Sprint(res.StatusCode)
		}
		got[body]++
	}
	return got
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Requests take turns over the ready slots; a slot taken out of the
// rotation gets none, and with none left the last reason is shown.
func TestSlotsShareTraffic(t *testing.T) {
	p := proxy.New(proxy.Options{Name: "app"})
	for _, n := range []string{"web.1", "web.2", "web.3"} {
		p.Slot(n).Switch(named(t, n))
	}
	got := hits(t, p, 30)
	for _, n := range []string{"web.1", "web.2", "web.3"} {
		if got[n] != 10 {
			t.Errorf("%s got %d of 30 requests, want 10 (all: %v)", n, got[n], got)
		}
	}

	if prev := p.Slot("web.2").Unavailable("web.2 is restarting"); prev == nil || prev.Addr() == "" {
		t.Errorf("Unavailable() = %v, want web.2's backend to drain", prev)
	}
	if got := hits(t, p, 20); got["web.1"] != 10 || got["web.3"] != 10 {
		t.Errorf("with web.2 out, requests went %v, want 10 each to web.1 and web.3", got)
	}
	p.Slot("web.1").Unavailable("web.1 is restarting")
	p.Slot("web.3").Unavailable("web.3 exited with status 1 and is restarting")
	srv := httptest.NewServer(p)
	defer srv.Close()
	res, body := get(t, mustRequest(t, srv.URL+"/"))
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "web.3 exited with status 1") {
		t.Errorf("with no slot ready: %d %q, want 503 naming the last reason", res.StatusCode, body)
	}
}

// A backend that stops accepting (its process just died) loses no
// request: each is sent to another slot, which the app never saw.
func TestDeadBackendLosesNoRequest(t *testing.T) {
	p := proxy.New(proxy.Options{})
	p.Slot("web.1").Switch(named(t, "web.1"))
	p.Slot("web.2").Switch(freeAddr(t))
	p.Slot("web.3").Switch(named(t, "web.3"))
	got := hits(t, p, 30)
	if got["web.1"]+got["web.3"] != 30 {
		t.Errorf("requests went %v, want all 30 to web.1 and web.3", got)
	}

	// With no backend left to try, the client gets the 502 page.
	dead := proxy.New(proxy.Options{})
	dead.Slot("web.1").Switch(freeAddr(t))
	dead.Slot("web.2").Switch(freeAddr(t))
	if got := hits(t, dead, 3); got["502"] != 3 {
		t.Errorf("with every backend dead, requests got %v, want three 502s", got)
	}
}

// A slot busy with a slow request gets no new one while another is idle.
func TestSlotsFewestInFlight(t *testing.T) {
	p := proxy.New(proxy.Options{})
	slow, slowAddr := newBlocking(t)
	p.Slot("web.1").Switch(slowAddr)
	p.Slot("web.2").Switch(named(t, "web.2"))
	srv := httptest.NewServer(p)
	defer srv.Close()
	done := make(chan string, 1)
	go func() {
		// Round robin sends one of the first two requests to web.1: keep
		// sending until the slow one holds a request.
		for {
			res, err := http.Get(srv.URL + "/")
			if err != nil {
				done <- err.Error()
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) == "done" {
				done <- "done"
				return
			}
		}
	}()
	<-slow.entered
	if got := hits(t, p, 10); got["web.2"] != 10 {
		t.Errorf("while web.1 is busy, requests went %v, want all to web.2", got)
	}
	slow.unblock()
	if got := <-done; got != "done" {
		t.Errorf("the slow request ended with %q", got)
	}
}

// A process that closes connections without answering (it is exiting)
// loses no replayable request: each goes to another slot. Others get the
// 502 page, as they may have been acted on.
func TestClosingBackendLosesNoReplayableRequest(t *testing.T) {
	closing := serveRaw(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n') // the request line, then nothing
	})
	web2 := named(t, "web.2")
	newProxy := func() *proxy.Proxy {
		p := proxy.New(proxy.Options{})
		p.Slot("web.1").Switch(closing)
		p.Slot("web.2").Switch(web2)
		return p
	}
	if got := hits(t, newProxy(), 20); got["web.2"] != 20 {
		t.Errorf("GETs went %v, want all 20 answered by web.2", got)
	}
	srv := httptest.NewServer(newProxy())
	defer srv.Close()
	statuses := map[int]int{}
	for range 20 {
		res, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		statuses[res.StatusCode]++
	}
	if statuses[http.StatusOK] == 20 || statuses[http.StatusBadGateway] == 0 {
		t.Errorf("POSTs got %v, want some 502s: a POST the app may have acted on is not sent twice", statuses)
	}
}
