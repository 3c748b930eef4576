package lifecycle_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
)

// entry is one file of a layer.
type entry struct {
	hdr  *tar.Header
	body string
}

// layerFiles reads a layer's tar into a map by entry name.
func layerFiles(t *testing.T, l v1.Layer) map[string]entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = entry{hdr, string(body)}
	}
}

// baseImage is a stand-in for a stack's run image: random layers and an
// environment of its own.
func baseImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Env: []string{"PATH=/usr/bin:/bin", "LANG=C"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// built runs a build whose buildpack compiles a small app, for Export.
func built(t *testing.T) *lifecycle.Result {
	t.Helper()
	bp := buildpack{
		detect:  "echo Shell",
		compile: `set -e; mkdir -p "$1/bin"; printf '#!/bin/sh\necho hi\n' > "$1/bin/serve"; chmod 755 "$1/bin/serve"`,
		release: `printf 'default_process_types:\n  web: bin/serve\n  worker: bin/serve --work\nconfig_vars:\n  LANG: en_US.UTF-8\n  GREETING: hi\n'`,
	}.write(t, "shell")
	res, log, err := build(t, app(t, "index.html", "<p>hello</p>\n"), func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	return res
}

var epoch = time.Unix(1700000000, 0).UTC()

func export(t *testing.T, res *lifecycle.Result, base v1.Image) (v1.Image, []lifecycle.LayerInfo) {
	t.Helper()
	img, infos, err := lifecycle.Export(res, lifecycle.ExportOptions{
		Base:    base,
		Stack:   lifecycle.StackLabel{Name: "test", Digest: "sha256:" + string(slices.Repeat([]byte("b"), 64))},
		RunName: "test/run",
		Epoch:   epoch,
		TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return img, infos
}

// Export puts the launcher, the process types and the app on the base's
// layers, left as they are, and configures the image to run the web
// process as the run user with the config vars.
func TestExport(t *testing.T) {
	res := built(t)
	base := baseImage(t)
	img, infos := export(t, res, base)

	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	holds := []string{"stack test", "stack test", "launcher (/paas/launcher)", "process types (/paas/processes)", "app (/app)"}
	if len(ls) != len(holds) || len(infos) != len(holds) {
		t.Fatalf("%d layers, %d described, want %d", len(ls), len(infos), len(holds))
	}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if infos[i].Digest != d.String() || infos[i].Holds != holds[i] {
			t.Errorf("layer %d is %s, described as %+v, want it holding %s", i, d, infos[i], holds[i])
		}
		if i < len(baseLayers) {
			if bd, _ := baseLayers[i].Digest(); bd != d {
				t.Errorf("base layer %d changed: %s, was %s", i, d, bd)
			}
		}
	}

	launcher := layerFiles(t, ls[2])["paas/launcher"]
	if launcher.body != string(launch.Script()) || launcher.hdr.Mode&0o777 != 0o755 {
		t.Errorf("launcher layer holds paas/launcher mode %o, %d bytes; want the launcher script, executable", launcher.hdr.Mode, len(launcher.body))
	}
	procs := layerFiles(t, ls[3])
	for typ, cmd := range res.Processes {
		if got := procs["paas/processes/"+typ].body; got != cmd+"\n" {
			t.Errorf("process type %s holds %q, want %q", typ, got, cmd+"\n")
		}
	}
	appFiles := layerFiles(t, ls[4])
	for _, name := range []string{"app/index.html", "app/bin/serve"} {
		e, ok := appFiles[name]
		if !ok {
			t.Errorf("app layer lacks %s", name)
			continue
		}
		want := readFile(t, filepath.Join(res.AppDir, name[len("app/"):]))
		if e.body != want || e.hdr.Uid != lifecycle.RunUID || e.hdr.Gid != lifecycle.RunGID {
			t.Errorf("%s: %q owned by %d:%d, want %q owned by the run user", name, e.body, e.hdr.Uid, e.hdr.Gid, want)
		}
	}
	if mode := appFiles["app/bin/serve"].hdr.Mode; mode&0o111 == 0 {
		t.Errorf("app/bin/serve has mode %o, want it executable", mode)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{launch.Launcher}) || !slices.Equal(c.Cmd, []string{"web"}) ||
		c.User != lifecycle.RunUser || c.WorkingDir != launch.AppDir {
		t.Errorf("runs %v %v as %q in %q, want the launcher running web as the run user in /app", c.Entrypoint, c.Cmd, c.User, c.WorkingDir)
	}
	if _, ok := c.ExposedPorts[launch.DefaultPort+"/tcp"]; !ok {
		t.Errorf("exposed ports %v lack %s/tcp", c.ExposedPorts, launch.DefaultPort)
	}
	// Config vars are the default environment, over the base's own.
	if want := []string{"GREETING=hi", "LANG=en_US.UTF-8", "PATH=/usr/bin:/bin"}; !slices.Equal(c.Env, want) {
		t.Errorf("environment %q, want %q", c.Env, want)
	}
	if !cf.Created.Equal(epoch) {
		t.Errorf("created %v, want the epoch %v", cf.Created.Time, epoch)
	}

	baseDigest, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var gotProcs map[string]string
	var gotBPs []lifecycle.UsedBuildpack
	var gotStack lifecycle.StackLabel
	for label, into := range map[string]any{oci.LabelProcesses: &gotProcs, oci.LabelBuildpacks: &gotBPs, oci.LabelStack: &gotStack} {
		if err := json.Unmarshal([]byte(c.Labels[label]), into); err != nil {
			t.Errorf("label %s = %q: %v", label, c.Labels[label], err)
		}
	}
	if !reflect.DeepEqual(gotProcs, res.Processes) || !reflect.DeepEqual(gotBPs, res.Buildpacks) {
		t.Errorf("labels give processes %v and buildpacks %+v, want %v and %+v", gotProcs, gotBPs, res.Processes, res.Buildpacks)
	}
	top, err := lifecycle.TopLayer(base)
	if err != nil {
		t.Fatal(err)
	}
	wantStack := lifecycle.StackLabel{Name: "test", Digest: "sha256:" + string(slices.Repeat([]byte("b"), 64)), RunImage: "test/run", RunDigest: baseDigest.String(), RunTopLayer: top}
	if gotStack != wantStack {
		t.Errorf("stack label %+v, want %+v", gotStack, wantStack)
	}
	var cnb struct {
		RunImage struct{ TopLayer, Reference string } `json:"runImage"`
	}
	if err := json.Unmarshal([]byte(c.Labels[oci.LabelCNBLifecycle]), &cnb); err != nil || cnb.RunImage.TopLayer != top || cnb.RunImage.Reference != baseDigest.String() {
		t.Errorf("label %s = %s (%v), want the run image's top layer and digest", oci.LabelCNBLifecycle, c.Labels[oci.LabelCNBLifecycle], err)
	}
	if c.Labels[oci.LabelCNBStackID] != "test" {
		t.Errorf("label %s = %q, want the stack's name", oci.LabelCNBStackID, c.Labels[oci.LabelCNBStackID])
	}

	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s, %s; want OCI's", m.MediaType, m.Config.MediaType)
	}
	if m.Annotations[oci.AnnotationBaseName] != "test/run" || m.Annotations[oci.AnnotationBaseDigest] != baseDigest.String() {
		t.Errorf("annotations %v, want the base's name and digest", m.Annotations)
	}

	// The same inputs give the same image.
	again, _ := export(t, res, base)
	d1, err1 := img.Digest()
	d2, err2 := again.Digest()
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Errorf("exporting twice gave %s and %s (%v, %v)", d1, d2, err1, err2)
	}
}

// The image runs web by default, else the only process type; with
// several and no web it runs none until told which.
func TestExportDefaultProcess(t *testing.T) {
	base := baseImage(t)
	tests := []struct {
		processes map[string]string
		want      []string
	}{
		{map[string]string{"web": "a", "worker": "b"}, []string{"web"}},
		{map[string]string{"worker": "b"}, []string{"worker"}},
		{map[string]string{"worker": "b", "clock": "c"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		img, _ := export(t, &lifecycle.Result{AppDir: t.TempDir(), Processes: tt.processes}, base)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cf.Config.Cmd, tt.want) {
			t.Errorf("processes %v: Cmd %q, want %q", tt.processes, cf.Config.Cmd, tt.want)
		}
	}
}

// A file no layer can hold is left out of the app layer, and Warn says so.
func TestExportWarn(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "queue"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	img, _, err := lifecycle.Export(&lifecycle.Result{AppDir: dir}, lifecycle.ExportOptions{
		Base: baseImage(t), Epoch: epoch, TempDir: t.TempDir(),
		Warn: func(msg string) { warnings = append(warnings, msg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := layerFiles(t, ls[len(ls)-1])["app/queue"]; ok {
		t.Error("the fifo is in the app layer")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "queue") {
		t.Errorf("warnings %q, want one naming the fifo", warnings)
	}
}
