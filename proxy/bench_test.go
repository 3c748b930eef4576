package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"

	"github.com/paas-dev/paas/proxy"
)

// The benchmarks measure the proxy's cost per request; scripts/bench-proxy
// compares it with nginx and a bare httputil.ReverseProxy under wrk. Run
// them with -benchmem: allocations per request are what the proxy adds
// to the garbage collector's work.

// BenchmarkProxy measures requests per second through the proxy to a
// trivial backend, client and backend in the same process; compare with
// BenchmarkDirect and BenchmarkReverseProxy.
func BenchmarkProxy(b *testing.B) {
	p := proxy.New(proxy.Options{AccessLog: io.Discard})
	p.Switch(startBackend(b, http.HandlerFunc(hello)))
	benchGet(b, "http://"+startProxy(b, p)+"/")
}

// BenchmarkReverseProxy measures a bare httputil.ReverseProxy in the same
// setting, for comparison.
func BenchmarkReverseProxy(b *testing.B) {
	target := &url.URL{Scheme: "http", Host: startBackend(b, http.HandlerFunc(hello))}
	benchGet(b, "http://"+startBackend(b, httputil.NewSingleHostReverseProxy(target))+"/")
}

// BenchmarkDirect measures the same backend without the proxy.
func BenchmarkDirect(b *testing.B) {
	benchGet(b, "http://"+startBackend(b, http.HandlerFunc(hello))+"/")
}

// BenchmarkServeHTTP measures the proxy's own work for one request: its
// handler called directly, answered by a canned backend that allocates
// nothing, so that allocs/op are the proxy's alone.
func BenchmarkServeHTTP(b *testing.B) {
	for _, tt := range []struct {
		name string
		log  io.Writer
	}{{"no log", nil}, {"access log", io.Discard}} {
		b.Run(tt.name, func(b *testing.B) {
			p := proxy.New(proxy.Options{AccessLog: tt.log})
			p.Switch(startCanned(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
			req, _ := http.NewRequest("GET", "http://shop.example.com/path?q=1", nil)
			req.RemoteAddr = "203.0.113.9:41000"
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "*/*")
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				p.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkBulk measures the throughput of a large response through the
// proxy.
func BenchmarkBulk(b *testing.B) {
	const size = 16 << 20
	chunk := make([]byte, 256<<10)
	backend := startBackend(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for n := 0; n < size; n += len(chunk) {
			w.Write(chunk)
		}
	}))
	p := proxy.New(proxy.Options{})
	p.Switch(backend)
	url := "http://" + startProxy(b, p) + "/"
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := benchOne(client, url); err != nil {
			b.Fatal(err)
		}
	}
}

// hello is the trivial backend.
func hello(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, "hello")
}

// benchGet GETs url in parallel b.N times over keep-alive connections and
// reports the rate.
func benchGet(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := benchOne(client, url); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// benchOne GETs url once and reads the whole answer.
func benchOne(client *http.Client, url string) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// startCanned serves answer to every request on a loopback port until
// the benchmark ends and returns the port's address. It reads requests
// without a body up to their blank line and allocates nothing per request.
func startCanned(b *testing.B, answer string) string {
	reply := []byte(answer)
	return serveRaw(b, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimSpace(line)) == 0 {
				if _, err := c.Write(reply); err != nil {
					return
				}
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) Flush()                      {}
