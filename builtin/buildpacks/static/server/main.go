// Command paas-static serves a static site: the builtin static buildpack
// compiles it at build time with the stack's Go (it must build with Go 1.19,
// bookworm's, so it uses nothing newer) into /app/bin/paas-static.
//
// It listens on $PORT (default 5000) on $HOST (default every interface, as
// a container on a cluster needs). paas run sets HOST=127.0.0.1: it runs
// apps in the host's network and reaches them through its proxy on
// loopback, so listening on every interface there would let clients around
// the proxy and its limits. It serves the document root:
// the "root" of static.json when given, else public/ when it exists, else
// the app directory. Directories serve their index.html and are never
// listed; content types come from the file extension; paths never leave
// the root, not even through symbolic links; dot files (any path element
// starting with '.', in the request or in the path symbolic links resolve
// to) are not served. One line per request goes to stdout. static.json
// settings:
//
//	{
//	  "root": "dist",                 // document root, relative to the app
//	  "clean_urls": true,             // /about serves about.html
//	  "headers": {"/assets/*": {"Cache-Control": "max-age=3600"}}
//	}
//
// Header patterns are matched against the request path with path.Match.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// config is static.json.
type config struct {
	Root      string                       `json:"root"`
	CleanURLs bool                         `json:"clean_urls"`
	Headers   map[string]map[string]string `json:"headers"`
}

func main() {
	configPath := flag.String("config", "static.json", "settings file, optional")
	check := flag.Bool("check", false, "check the settings, print the document root and exit")
	flag.Parse()
	cfg, root, err := load(*configPath)
	if err != nil {
		log.Fatalf("paas-static: %v", err)
	}
	if *check {
		fmt.Println(root)
		return
	}
	if err := serve(cfg, root); err != nil {
		log.Fatalf("paas-static: %v", err)
	}
}

// load reads the optional settings file and resolves the document root.
func load(file string) (config, string, error) {
	var cfg config
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return cfg, "", err
	default:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return cfg, "", fmt.Errorf("parsing %s: %w", file, err)
		}
	}
	for pattern := range cfg.Headers {
		if _, err := path.Match(pattern, "/"); err != nil {
			return cfg, "", fmt.Errorf("%s: header pattern %q: %w", file, pattern, err)
		}
	}
	root, err := documentRoot(cfg.Root)
	return cfg, root, err
}

// documentRoot returns the absolute, symlink-free document root.
func documentRoot(configured string) (string, error) {
	root := configured
	if root == "" {
		root = "."
		if fi, err := os.Stat("public"); err == nil && fi.IsDir() {
			root = "public"
		}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("document root: %w", err)
	}
	if fi, err := os.Stat(resolved); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("document root %s is not a directory", root)
	}
	return resolved, nil
}

// listenAddr returns the address to listen on, from the environment.
func listenAddr(getenv func(string) string) string {
	host, port := getenv("HOST"), getenv("PORT")
	if port == "" {
		port = "5000"
	}
	return net.JoinHostPort(host, port)
}

func serve(cfg config, root string) error {
	ln, err := net.Listen("tcp", listenAddr(os.Getenv))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(handler(cfg, root)),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // best effort: the process is exiting
	}()
	log.SetFlags(0)
	log.Printf("paas-static: serving %s on %s", root, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler serves files from root with the configured headers.
func handler(cfg config, root string) http.Handler {
	files := http.FileServer(rootFS{root: root, cleanURLs: cfg.CleanURLs})
	patterns := make([]string, 0, len(cfg.Headers))
	for p := range cfg.Headers {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range patterns {
			if ok, _ := path.Match(p, r.URL.Path); ok {
				for k, v := range cfg.Headers[p] {
					w.Header().Set(k, v)
				}
			}
		}
		files.ServeHTTP(w, r)
	})
}

// rootFS is an http.FileSystem confined to root (absolute, free of
// symbolic links): like http.Dir, and in addition symbolic links that lead
// out of root or to a dot file, dot files and directories without an
// index.html are not found, and with clean URLs /name falls back to
// /name.html.
type rootFS struct {
	root      string
	cleanURLs bool
}

func (f rootFS) Open(name string) (http.File, error) {
	clean := path.Clean("/" + name)
	file, err := f.open(clean)
	if errors.Is(err, fs.ErrNotExist) && f.cleanURLs && path.Ext(clean) == "" && clean != "/" {
		return f.open(clean + ".html")
	}
	return file, err
}

// open opens the file at clean, a cleaned slash path, once the path the
// request names and the path its symbolic links resolve to are both
// inside root and free of dot files. Resolving, then opening is sound
// here, though another process could swap a link in between: the only
// process running in the app's filesystem is this server (os.Root would
// close the gap, but paas-static must build with Go 1.19).
func (f rootFS) open(clean string) (http.File, error) {
	if hasDotFile(clean) {
		return nil, fs.ErrNotExist
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(f.root, filepath.FromSlash(clean)))
	if err != nil {
		return nil, fs.ErrNotExist
	}
	rel, err := filepath.Rel(f.root, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || hasDotFile(filepath.ToSlash(rel)) {
		return nil, fs.ErrNotExist
	}
	file, err := os.Open(resolved)
	if err != nil {
		return nil, err
	}
	if !f.servable(file, clean) {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

// servable reports whether file, opened for clean, may be served: a
// directory only when it has an index.html, so none is ever listed (a
// listing would name the dot files and other files no page links to).
func (f rootFS) servable(file *os.File, clean string) bool {
	fi, err := file.Stat()
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		return true
	}
	index, err := f.open(path.Join(clean, "index.html"))
	if err != nil {
		return false
	}
	index.Close()
	return true
}

// hasDotFile reports whether a slash path has an element starting with
// '.', other than "." itself (the root, as filepath.Rel names it).
func hasDotFile(p string) bool {
	for _, elem := range strings.Split(p, "/") {
		if elem != "." && strings.HasPrefix(elem, ".") {
			return true
		}
	}
	return false
}

// logRequests logs one line per request: method, path, status, bytes and
// duration.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		fmt.Printf("%s %s %d %dB %s\n", r.Method, r.URL.Path, rec.status, rec.bytes, time.Since(start).Round(time.Microsecond))
	})
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}
