package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/paas-dev/paas/proxy"
)

func TestWebSocketEcho(t *testing.T) {
	p, echo, ws := dialEcho(t, proxy.Options{})
	roundTrip(t, ws, "hello")
	old := p.Switch(echo) // the upgraded connection stays on the old backend
	if n := old.InFlight(); n != 1 {
		t.Errorf("InFlight() with an open WebSocket = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := old.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain() with an open WebSocket = %v, want context.DeadlineExceeded", err)
	}
	roundTrip(t, ws, "still there after the switch")
	ws.Close()
	if err := drainGuarded(old); err != nil {
		t.Errorf("Drain() after the WebSocket closed = %v, want nil", err)
	}
}

// dialEcho starts a WebSocket echo backend behind a proxy with o and
// returns the proxy, the backend's address and a connection through the
// proxy, closed when the test ends.
func dialEcho(t *testing.T, o proxy.Options) (*proxy.Proxy, string, *websocket.Conn) {
	t.Helper()
	echo := startBackend(t, websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	p := proxy.New(o)
	p.Switch(echo)
	addr := startProxy(t, p)
	ws, err := websocket.Dial("ws://"+addr+"/echo", "", "http://"+addr)
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return p, echo, ws
}

// roundTrip sends msg over ws and expects it echoed.
func roundTrip(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	ws.SetDeadline(time.Now().Add(guard))
	if err := websocket.Message.Send(ws, msg); err != nil {
		t.Fatalf("Send(%q) = %v", msg, err)
	}
	var got string
	if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
		t.Fatalf("Receive() = %q, %v, want %q", got, err, msg)
	}
}

func TestServerSentEventsStream(t *testing.T) {
	second := make(chan struct{})
	events := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-second:
			fmt.Fprint(w, "data: two\n\n")
		case <-r.Context().Done():
		}
	}))
	p := proxy.New(proxy.Options{})
	p.Switch(events)
	addr := startProxy(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do() = %v", err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if got, err := readEvent(br); got != "data: one" {
		t.Fatalf("first event = %q, %v, want \"data: one\" before the backend sends the second", got, err)
	}
	close(second)
	if got, err := readEvent(br); got != "data: two" {
		t.Errorf("second event = %q, %v, want \"data: two\"", got, err)
	}
}

// readEvent reads one server-sent event: lines up to a blank one.
func readEvent(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n"), err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// tight are limits shorter than the pauses in the stream tests (pause),
// so those show that a stream idling between writes outlives them all.
// They are not shorter still so that a test machine stalling a goroutine
// under load does not trip them.
var tight = proxy.Options{ReadHeaderTimeout: 5 * short, BodyTimeout: 5 * short, MinBodyRate: 1000, WriteTimeout: 5 * short, IdleTimeout: 5 * short}

// pause is how long the stream tests idle: past every limit in tight.
const pause = 10 * short

func TestStreamOutlivesTimeouts(t *testing.T) {
	next := make(chan struct{})
	events := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	p := proxy.New(tight)
	p.Switch(events)
	addr := startProxy(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// A POST: the body's read deadline must not outlast the body.
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/events", strings.NewReader("subscribe"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do() = %v", err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := range 2 {
		if got, err := readEvent(br); got != fmt.Sprintf("data: %d", i) {
			t.Fatalf("event %d = %q, %v, want \"data: %d\" after idling past every timeout", i, got, err, i)
		}
		time.Sleep(pause)
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("the app's stream ended after event %d, want it kept open", i)
		}
	}
}

func TestWebSocketOutlivesTimeouts(t *testing.T) {
	_, _, ws := dialEcho(t, tight)
	roundTrip(t, ws, "hello")
	time.Sleep(pause)
	roundTrip(t, ws, "still there after idling past every timeout")
}
