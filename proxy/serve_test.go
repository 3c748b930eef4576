package proxy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/proxy"
)

// serveAsync runs p.Serve on a new loopback listener; the caller ends it
// with the returned cancel and reads Serve's result from the channel.
func serveAsync(t *testing.T, p *proxy.Proxy) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, l) }()
	return l.Addr().String(), cancel, served
}

// waitClosed polls until addr refuses connections, which Serve's shutdown
// does first, so the test knows shutdown has begun.
func waitClosed(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s still accepts connections after Serve's context ended", addr)
}

func TestServeShutdownLetsRequestFinish(t *testing.T) {
	slow, slowAddr := newBlocking(t)
	p := proxy.New(proxy.Options{})
	p.Switch(slowAddr)
	addr, stop, served := serveAsync(t, p)
	res := getAsync("http://" + addr + "/")
	<-slow.entered
	stop()
	waitClosed(t, addr)
	select {
	case err := <-served:
		t.Fatalf("Serve() = %v with a request in flight, want it to wait", err)
	default:
	}
	slow.unblock()
	if r := <-res; r.err != nil || r.code != http.StatusOK || r.body != "done" {
		t.Errorf("Get() during shutdown = %d %q %v, want 200 \"done\"", r.code, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestServeShutdownGraceEnds(t *testing.T) {
	slow, slowAddr := newBlocking(t)
	p := proxy.New(proxy.Options{ShutdownGrace: 20 * time.Millisecond})
	p.Switch(slowAddr)
	addr, stop, served := serveAsync(t, p)
	res := getAsync("http://" + addr + "/")
	<-slow.entered
	stop()
	err := <-served
	if err == nil || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Errorf("Serve() = %v, want an error counting 1 request in flight", err)
	}
	if r := <-res; r.err == nil && r.code == http.StatusOK {
		t.Errorf("Get() cut off by shutdown = %d %q, want an error", r.code, r.body)
	}
}

// lines is an io.Writer that hands each Write to the test.
type lines chan string

// Write sends b as one line.
func (l lines) Write(b []byte) (int, error) {
	l <- string(b)
	return len(b), nil
}

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name    string
		backend func(t *testing.T) string
		want    []string
	}{{
		name: "answered",
		backend: func(t *testing.T) string {
			return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, "hello world")
			}))
		},
		want: []string{`method=GET`, `path="/hello?x=1"`, `host="shop.example.com"`, `status=201`, `bytes=11`, `fwd="127.0.0.1"`},
	}, {
		name:    "backend gone",
		backend: freeAddr,
		want:    []string{`method=GET`, `path="/hello?x=1"`, `status=502`, `error="dial tcp`},
	}}
	duration := regexp.MustCompile(` duration=[0-9.]+(µs|ms|s) `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := make(lines, 1)
			p := proxy.New(proxy.Options{AccessLog: log})
			p.Switch(tt.backend(t))
			addr := startProxy(t, p)
			req, _ := http.NewRequest("GET", "http://"+addr+"/hello?x=1", nil)
			req.Host = "shop.example.com"
			res, _ := get(t, req)
			line := <-log
			for _, w := range append(tt.want, "request_id="+res.Header.Get("X-Request-Id")) {
				if !strings.Contains(line, w) {
					t.Errorf("access log line = %q, want it to contain %q", line, w)
				}
			}
			if !duration.MatchString(line) || !strings.HasSuffix(line, "\n") {
				t.Errorf("access log line = %q, want a duration and one trailing newline", line)
			}
		})
	}
}
