// Command benchdata writes the inputs that scripts/bench measures builds
// with. Every byte is derived from a fixed seed, so two runs, on any
// machine, write the same files (modes and contents; not times):
//
//	benchdata large DIR [-files 4] [-mib 256]
//	    few large files of data that hardly compresses (random bytes below
//	    128), DIR/data/blob-N.bin
//	benchdata node DIR [-packages 1200]
//	    a Node.js app: package.json, server.js and src/, with a large
//	    node_modules of many packages of small JavaScript files (scoped
//	    packages, nested node_modules and .bin symlinks included)
//
// It prints one line, "FILES BYTES", the regular files and bytes written.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(2)
	}
}

const usage = "usage: benchdata large DIR [-files N] [-mib N] | benchdata node DIR [-packages N]"

func run(args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return errors.New(usage)
	}
	kind, dir := args[0], args[1]
	fs := flag.NewFlagSet("benchdata "+kind, flag.ContinueOnError)
	files := fs.Int("files", 4, "large: how many files")
	mib := fs.Int("mib", 256, "large: size of each file in MiB")
	packages := fs.Int("packages", 1200, "node: how many packages in node_modules")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	w := &writer{}
	var err error
	switch kind {
	case "large":
		err = writeLarge(w, dir, *files, int64(*mib)<<20)
	case "node":
		err = writeNode(w, dir, *packages)
	default:
		return errors.New(usage)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d %d\n", w.files, w.bytes)
	return err
}

// writer creates files and counts them.
type writer struct {
	files, bytes int64
}

// create writes the file at path with what fill writes, creating its
// parents.
func (w *writer) create(path string, mode os.FileMode, fill func(*bufio.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	cw := &countWriter{w: f}
	bw := bufio.NewWriterSize(cw, 256<<10)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.files++
	w.bytes += cw.n
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// rng returns a generator seeded by name alone.
func rng(name string) *rand.Rand {
	return rand.New(chacha(name))
}

func chacha(name string) *rand.ChaCha8 {
	var seed [32]byte
	for i := range 4 {
		h := fnv.New64a()
		fmt.Fprintf(h, "paas-bench/%d/%s", i, name)
		binary.LittleEndian.PutUint64(seed[8*i:], h.Sum64())
	}
	return rand.NewChaCha8(seed)
}

// sevenBits reads random bytes below 128: data that deflate shrinks only
// to about 7/8 of its size, by Huffman coding alone, as it does binaries,
// archives and model weights, without the shortcut some compressors take
// for data that does not compress at all.
type sevenBits struct{ r io.Reader }

func (s sevenBits) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for i := range p[:n] {
		p[i] &= 0x7f
	}
	return n, err
}

func writeLarge(w *writer, dir string, files int, size int64) error {
	for i := range files {
		src := sevenBits{chacha(fmt.Sprintf("large/%d", i))}
		path := filepath.Join(dir, "data", fmt.Sprintf("blob-%d.bin", i))
		err := w.create(path, 0o644, func(bw *bufio.Writer) error {
			_, err := io.CopyN(bw, src, size)
			return err
		})
		if err != nil {
			return err
		}
	}
	return w.create(filepath.Join(dir, "README"), 0o644, func(bw *bufio.Writer) error {
		_, err := fmt.Fprintf(bw, "%d files of %d bytes each under data/\n", files, size)
		return err
	})
}

// Words JavaScript is made of, for text that compresses as source does.
var (
	idents = strings.Fields(`value result options config callback err data item
		index key name path buffer stream request response handler state next
		prev node list map set cache entry token parser scope context module
		exports target source length count offset size width height left right
		child parent event listener emitter promise resolve reject timeout
		encoding chunk line column message stack error debug level format`)
	verbs = strings.Fields(`get set parse format create update remove find
		merge resolve normalize validate emit read write flush encode decode
		compile render transform visit walk match replace split join`)
	statements = []string{
		"const %s = %s(%s);",
		"let %s = %s.%s || {};",
		"if (%s === undefined) { return %s(%s); }",
		"for (const %s of %s) { %s(%s); }",
		"%s.%s = function (%s) { return %s; };",
		"return %s.%s(%s);",
		"throw new TypeError('%s: invalid %s ' + %s);",
		"// %s the %s before %s is read",
		"%s = %s.concat(%s);",
		"module.exports.%s = %s;",
	}
)

// js writes about n bytes of JavaScript-like text.
func js(bw *bufio.Writer, r *rand.Rand, n int) error {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	written := 0
	for written < n {
		noun := pick(idents)
		fn := pick(verbs) + strings.ToUpper(noun[:1]) + noun[1:]
		k, _ := fmt.Fprintf(bw, "function %s(%s, %s) {\n", fn, pick(idents), pick(idents))
		written += k
		for range 3 + r.IntN(12) {
			st := statements[r.IntN(len(statements))]
			args := make([]any, strings.Count(st, "%s"))
			for i := range args {
				if i%2 == 1 {
					args[i] = pick(verbs)
				} else {
					args[i] = pick(idents)
				}
			}
			k, _ = fmt.Fprintf(bw, "  "+st+"\n", args...)
			written += k
		}
		k, err := bw.WriteString("}\n\n")
		written += k
		if err != nil {
			return err
		}
	}
	return nil
}

// size draws a source file's size: mostly a few KiB, sometimes far more.
func size(r *rand.Rand) int {
	s := 300 + r.IntN(4000)
	if r.IntN(8) == 0 {
		s += r.IntN(24000)
	}
	return s
}

func writeNode(w *writer, dir string, packages int) error {
	r := rng("node/app")
	names := make([]string, packages)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%s-%d", idents[r.IntN(len(idents))], verbs[r.IntN(len(verbs))], i)
		if r.IntN(10) == 0 {
			names[i] = "@" + idents[r.IntN(len(idents))] + "/" + names[i]
		}
	}
	text := func(path string, s string) error {
		return w.create(filepath.Join(dir, path), 0o644, func(bw *bufio.Writer) error {
			_, err := bw.WriteString(s)
			return err
		})
	}
	source := func(path string, r *rand.Rand, n int) error {
		return w.create(filepath.Join(dir, path), 0o644, func(bw *bufio.Writer) error { return js(bw, r, n) })
	}
	var deps strings.Builder
	for i, n := range names {
		if i > 0 {
			deps.WriteString(",\n")
		}
		fmt.Fprintf(&deps, "    %q: \"^1.%d.0\"", n, i%20)
	}
	if err := text("package.json", fmt.Sprintf("{\n  \"name\": \"bench-node-app\",\n  \"version\": \"1.0.0\",\n  \"main\": \"server.js\",\n  \"scripts\": {\"start\": \"node server.js\"},\n  \"dependencies\": {\n%s\n  }\n}\n", deps.String())); err != nil {
		return err
	}
	if err := text("server.js", "const http = require('http');\nconst app = require('./src/app');\nhttp.createServer(app).listen(process.env.PORT || 5000);\n"); err != nil {
		return err
	}
	for i := range 40 {
		if err := source(fmt.Sprintf("src/%s/%s.js", idents[i%len(idents)], verbs[i%len(verbs)]), r, size(r)); err != nil {
			return err
		}
	}
	if err := source("src/app.js", r, 2000); err != nil {
		return err
	}
	for i, n := range names {
		if err := writePackage(w, filepath.Join(dir, "node_modules", n), n, i); err != nil {
			return err
		}
	}
	return nil
}

// writePackage writes one package of node_modules: its manifest, readme,
// licence and sources, sometimes a large bundle, a nested node_modules or a
// command linked from node_modules/.bin.
func writePackage(w *writer, dir, name string, i int) error {
	r := rng("node/pkg/" + name)
	text := func(path, s string, mode os.FileMode) error {
		return w.create(filepath.Join(dir, path), mode, func(bw *bufio.Writer) error {
			_, err := bw.WriteString(s)
			return err
		})
	}
	source := func(path string, n int) error {
		return w.create(filepath.Join(dir, path), 0o644, func(bw *bufio.Writer) error { return js(bw, r, n) })
	}
	if err := text("package.json", fmt.Sprintf("{\n  \"name\": %q,\n  \"version\": \"1.%d.%d\",\n  \"main\": \"index.js\",\n  \"license\": \"MIT\"\n}\n", name, i%20, r.IntN(30)), 0o644); err != nil {
		return err
	}
	if err := text("README.md", fmt.Sprintf("# %s\n\n%s\n", name, strings.Repeat("Install it with npm and require it. It does what its name says.\n", 5+r.IntN(40))), 0o644); err != nil {
		return err
	}
	if err := text("LICENSE", "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software, to deal in the Software without restriction.\n", 0o644); err != nil {
		return err
	}
	if err := source("index.js", size(r)); err != nil {
		return err
	}
	for j := range 4 + r.IntN(16) {
		if err := source(fmt.Sprintf("lib/%s-%d.js", verbs[r.IntN(len(verbs))], j), size(r)); err != nil {
			return err
		}
	}
	if r.IntN(3) == 0 {
		if err := source("index.d.ts", size(r)); err != nil {
			return err
		}
	}
	if r.IntN(15) == 0 {
		if err := source("dist/bundle.min.js", 50000+r.IntN(250000)); err != nil {
			return err
		}
	}
	if r.IntN(20) == 0 {
		nested := filepath.Join("node_modules", idents[r.IntN(len(idents))]+"-compat")
		if err := text(filepath.Join(nested, "package.json"), "{\"name\": \"compat\", \"version\": \"0.1.0\"}\n", 0o644); err != nil {
			return err
		}
		if err := source(filepath.Join(nested, "index.js"), size(r)); err != nil {
			return err
		}
	}
	if r.IntN(20) == 0 && !strings.HasPrefix(name, "@") {
		if err := text("bin/cli.js", "#!/usr/bin/env node\nrequire('../index.js');\n", 0o755); err != nil {
			return err
		}
		bin := filepath.Join(dir, "..", ".bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		return os.Symlink(filepath.Join("..", name, "bin", "cli.js"), filepath.Join(bin, name))
	}
	return nil
}
