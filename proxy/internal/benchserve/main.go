// Command benchserve is the set of servers scripts/bench-proxy measures:
//
//	benchserve upstream                  the app: GET / answers 13 bytes, GET /bulk 100 MB
//	benchserve reverseproxy -to ADDR     a bare httputil.ReverseProxy in front of ADDR
//	benchserve paas -to ADDR [-log FILE] paas's proxy in front of ADDR
//
// Each listens on -listen (default an ephemeral loopback port), prints the
// address it listens on as its first line of output, and serves until it is
// killed. "benchserve port" prints a free loopback port and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/paas-dev/paas/proxy"
)

const (
	// small is the body of GET /, the size of a tiny API answer.
	small = "Hello, World!"
	// bulkSize is the body size of GET /bulk.
	bulkSize = 100 << 20
	// chunk is what the upstream writes at a time for GET /bulk.
	chunk = 256 << 10
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchserve: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchserve upstream|reverseproxy|paas|port [flags]")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	to := fs.String("to", "", "upstream address (reverseproxy, paas)")
	logFile := fs.String("log", "", "access log file (paas); none by default")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until SIGINT or SIGTERM")
	_ = fs.Parse(os.Args[2:]) // ExitOnError
	if *cpuProfile != "" {
		profileUntilSignal(*cpuProfile)
	}
	if mode == "port" {
		fmt.Println(freePort())
		return
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	switch mode {
	case "upstream":
		err = http.Serve(ln, http.HandlerFunc(upstream))
	case "reverseproxy":
		err = http.Serve(ln, httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: *to}))
	case "paas":
		err = servePaas(ln, *to, *logFile)
	default:
		log.Fatalf("unknown mode %q", mode)
	}
	log.Fatal(err)
}

// upstream is the app behind the proxies.
func upstream(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/bulk" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, small) // a client gone is no matter here
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(bulkSize))
	buf := make([]byte, chunk)
	for n := 0; n < bulkSize; n += chunk {
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
}

// servePaas serves paas's proxy, forwarding to addr, logging to file.
func servePaas(ln net.Listener, addr, file string) error {
	var opts proxy.Options
	if file != "" {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.AccessLog = f
	}
	p := proxy.New(opts)
	p.Switch(addr)
	return p.Serve(context.Background(), ln)
}

// freePort returns a loopback port nobody listens on right now.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// profileUntilSignal starts a CPU profile into file and stops it, then
// exits, on SIGINT or SIGTERM.
func profileUntilSignal(file string) {
	f, err := os.Create(file)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(0)
	}()
}
