package proxy_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/paas-dev/paas/proxy"
)

// BenchmarkProxy measures requests per second through the proxy to a
// trivial backend; compare with BenchmarkDirect for the proxy's cost.
func BenchmarkProxy(b *testing.B) {
	p := proxy.New(proxy.Options{})
	p.Switch(startBackend(b, http.HandlerFunc(hello)))
	benchGet(b, "http://"+startProxy(b, p)+"/")
}

// BenchmarkDirect measures the same backend without the proxy.
func BenchmarkDirect(b *testing.B) {
	benchGet(b, "http://"+startBackend(b, http.HandlerFunc(hello))+"/")
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
