package main

import (
	"archive/tar"
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	paashome "github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

// entry is a file of a layer, with the body of small regular files.
type entry struct {
	hdr  *tar.Header
	body string
}

func TestBuildHello(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := appCopy(t, h.user, "hello")
		r := h.mustBuild(t, "-t", "hello-"+h.user.name, "-b", buildpackDir("hello"), app)
		if r.Image != "hello-"+h.user.name+":latest" || !strings.HasPrefix(r.Digest, "sha256:") {
			t.Fatalf("report image=%q digest=%q", r.Image, r.Digest)
		}
		if got := r.Processes["web"]; got != "perl server.pl # the web server" {
			t.Errorf("web process = %q, want the Procfile's command", got)
		}
		if len(r.Buildpacks) != 1 || r.Buildpacks[0].Name != "hello" {
			t.Errorf("buildpacks = %+v", r.Buildpacks)
		}
		img := storedImage(t, h, r.Image)
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate.Image: %v", err)
		}
		checkHelloImage(t, img)
	})
}

func checkHelloImage(t *testing.T, img v1.Image) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if strings.Join(c.Entrypoint, " ") != "/paas/launcher" || strings.Join(c.Cmd, " ") != "web" {
		t.Errorf("entrypoint %v cmd %v, want /paas/launcher web", c.Entrypoint, c.Cmd)
	}
	if c.User != "1000:1000" || c.WorkingDir != "/app" {
		t.Errorf("user %q workdir %q", c.User, c.WorkingDir)
	}
	if _, ok := c.ExposedPorts["5000/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 5000/tcp", c.ExposedPorts)
	}
	contains(t, "env", strings.Join(c.Env, "\n"), "HELLO_RELEASED=yes")
	for _, l := range []string{"io.paas.processes", "io.paas.buildpacks", "io.paas.stack"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s missing", l)
		}
	}
	layers := lastLayers(t, img, 3)
	launcher, procs, app := layerEntries(t, layers[0]), layerEntries(t, layers[1]), layerEntries(t, layers[2])
	if e, ok := launcher["paas/launcher"]; !ok || e.hdr.Mode&0o111 == 0 {
		t.Errorf("launcher layer lacks an executable paas/launcher: %v", launcher)
	}
	if procs["paas/processes/worker"].body == "" {
		t.Errorf("process layer lacks worker: %v", procs)
	}
	for _, want := range []string{"app/server.pl", "app/Procfile", "app/about.txt", "app/.profile.d/hello.sh"} {
		e, ok := app[want]
		if !ok {
			t.Errorf("app layer lacks %s", want)
			continue
		}
		if e.hdr.Uid != 1000 || e.hdr.Gid != 1000 || e.hdr.Uname != "" {
			t.Errorf("%s owned by %d:%d %q, want 1000:1000", want, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname)
		}
		if !e.hdr.ModTime.Equal(time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)) {
			t.Errorf("%s mtime %v", want, e.hdr.ModTime)
		}
	}
	for _, gone := range []string{"app/debug.log", "app/scratch", "app/scratch/notes.txt", "app/.git"} {
		if _, ok := app[gone]; ok {
			t.Errorf("app layer has %s, which must be left out", gone)
		}
	}
}

// The stack's layers are in the image exactly as they are in the stack.
func TestBuildKeepsStackLayers(t *testing.T) {
	h := sharedHome(t, root)
	r := h.mustBuild(t, "-t", "stacklayers", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	store, err := oci.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	stack, _, err := store.Image(oci.KindStack, "test")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := stack.Layers()
	got, _ := storedImage(t, h, r.Image).Layers()
	for i := range want {
		wd, _ := want[i].Digest()
		gd, _ := got[i].Digest()
		if wd != gd {
			t.Errorf("layer %d = %v, want the stack's %v", i, gd, wd)
		}
	}
	if r.Stack.Name != "test" || r.Stack.Digest == "" {
		t.Errorf("report stack = %+v", r.Stack)
	}
}

// Two copies of an app in different places, with different file times,
// built by different users into different stores, give one digest.
func TestBuildReproducible(t *testing.T) {
	rootless := unprivileged(t)
	a := appCopy(t, root, "hello")
	b := appCopy(t, rootless, "hello")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	_ = filepath.Walk(b, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
	r1 := sharedHome(t, root).mustBuild(t, "-t", "repro", "-b", buildpackDir("hello"), a)
	r2 := sharedHome(t, rootless).mustBuild(t, "-t", "repro", "-b", buildpackDir("hello"), b)
	if r1.Digest != r2.Digest {
		t.Fatalf("digests differ: %s (root, %s) vs %s (rootless, %s)", r1.Digest, a, r2.Digest, b)
	}
	r3 := sharedHome(t, root).mustBuild(t, "-t", "repro", "-b", buildpackDir("hello"), a)
	if r3.Digest != r1.Digest {
		t.Errorf("rebuild digest %s, want %s", r3.Digest, r1.Digest)
	}
}

func TestBuildSourceDateEpoch(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	out, code := h.paasEnv(t, []string{"SOURCE_DATE_EPOCH=1700000000"}, "build", "--json", "-t", "sde", "-b", buildpackDir("hello"), app)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out.stderr)
	}
	img := storedImage(t, h, "sde:latest")
	app0 := layerEntries(t, lastLayers(t, img, 1)[0])
	if got := app0["app/server.pl"].hdr.ModTime.Unix(); got != 1700000000 {
		t.Errorf("mtime = %d, want SOURCE_DATE_EPOCH 1700000000", got)
	}
}

// --compression zstd writes zstd layers for paas's own layers.
func TestBuildZstd(t *testing.T) {
	h := sharedHome(t, root)
	r := h.mustBuild(t, "-t", "zstd", "--compression", "zstd", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	for _, l := range lastLayers(t, storedImage(t, h, r.Image), 3) {
		mt, err := l.MediaType()
		if err != nil || mt != types.OCILayerZStd {
			t.Errorf("media type = %v (%v), want %s", mt, err, types.OCILayerZStd)
		}
	}
	checkHelloImage(t, storedImage(t, h, r.Image))
}

// Buildpack output reaches the user while the buildpack still runs.
func TestBuildStreamsOutput(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	cmd := h.command(nil, "build", "-t", "streaming", "-b", buildpackDir("streaming"), app)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var seen []string
	for sc.Scan() {
		line := sc.Text()
		seen = append(seen, line)
		if strings.Contains(line, "streaming-first-line") {
			// The buildpack waits for this file: the line arrived while it ran.
			cont := filepath.Join(h.dir, "cache", paashome.Key("streaming"), "continue")
			if err := os.WriteFile(cont, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(line, "streaming-second-line") {
			break
		}
	}
	for sc.Scan() {
		seen = append(seen, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(seen, "\n"))
	}
	all := strings.Join(seen, "\n")
	contains(t, "output", all, "streaming-second-line")
	contains(t, "output", all, "-----> Detecting buildpacks")
	contains(t, "output", all, "-----> Streaming app detected")
}
