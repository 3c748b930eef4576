package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/runner"
)

// predeploy runs the image's app.json predeploy script, as Dokku does
// before a deploy, and returns the image with what it changed under /app
// as a new top layer, stored under the image's name when it came from the
// store. It runs in paas's sandbox whatever the runtime, which gives back
// a process's changes as an overlay's upper directory. An image that is
// itself the result of a predeploy (LabelPredeploy) is returned as it is:
// the script ran for its build already.
func (d *deployment) predeploy(ctx context.Context, img v1.Image, s deployScripts) (v1.Image, error) {
	if s.Predeploy == "" {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if from := cf.Config.Labels[oci.LabelPredeploy]; from != "" {
		d.o.Console.Info("predeploy ran already for this image (made from %s)", console.ShortDigest(from))
		return img, nil
	}
	start := time.Now()
	d.o.Console.Step("Running predeploy: %s", s.Predeploy)
	rt, err := d.sandboxRuntime()
	if err != nil {
		return nil, err
	}
	tail := console.NewTail(20)
	out := io.MultiWriter(console.NewPrefixer(d.o.Stdout, "predeploy | "), tail)
	proc, err := rt.Start(ctx, runner.Spec{
		ID:    fmt.Sprintf("%s-predeploy-%d", home.IDSafe(oci.Repository(d.target.name)), time.Now().UnixNano()),
		Image: img, ImageName: d.target.name, Args: []string{"sh", "-c", s.Predeploy},
		Env: append([]string{"PORT=5000"}, d.o.Env...), Stdout: out, Stderr: out,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: starting predeploy: %w", ErrRuntime, err)
	}
	defer func() { _ = proc.Stop(context.WithoutCancel(ctx), d.o.StopTimeout) }()
	select {
	case <-proc.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if code := proc.Exit().Code; code != 0 {
		return nil, fmt.Errorf("%w: predeploy (%s) exited with status %d%s", ErrReleasePhase, s.Predeploy, code, tail.Quote())
	}
	changed, err := d.withChanges(img, cf, proc.(runner.Changes).UpperDir())
	if err != nil {
		return nil, fmt.Errorf("keeping what predeploy changed: %w", err)
	}
	d.o.Console.Info("predeploy done in %s", console.Duration(time.Since(start)))
	return changed, nil
}

// sandboxRuntime is the deploy's runtime when it is the sandbox, else a
// sandbox runtime of its own.
func (d *deployment) sandboxRuntime() (runner.Runtime, error) {
	if d.rt.Name() == RuntimeSandbox {
		return d.rt, nil
	}
	o := d.o
	o.Runtime = RuntimeSandbox
	return openRuntime(context.Background(), d.home, o)
}

// withChanges returns img (whose config is cf) with the changes under
// /app in upper as a new layer, owned by the image's user like the rest of
// /app (SPEC.md §4), stored under the deploy's name when it came from the
// store. Changes outside /app are not kept.
func (d *deployment) withChanges(img v1.Image, cf *v1.ConfigFile, upper string) (v1.Image, error) {
	app := filepath.Join(upper, launch.AppDir)
	if _, err := os.Lstat(app); errors.Is(err, fs.ErrNotExist) {
		return img, nil // nothing changed in /app
	}
	scratch, err := d.home.Scratch("predeploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	uid, gid := imageUser(cf)
	l, err := layers.FromDir(app, layers.WithOverlayUpper(), layers.WithPrefix(launch.AppDir),
		layers.WithOwner(uid, gid), layers.WithEpoch(layers.SourceDateEpoch()), layers.WithTempDir(scratch))
	if err != nil {
		return nil, err
	}
	from, err := img.Digest()
	if err != nil {
		return nil, err
	}
	changed, err := mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "paas: app.json predeploy", Created: v1.Time{Time: layers.SourceDateEpoch()}}})
	if err != nil {
		return nil, err
	}
	ccf, err := changed.ConfigFile()
	if err != nil {
		return nil, err
	}
	ccf = ccf.DeepCopy()
	if ccf.Config.Labels == nil {
		ccf.Config.Labels = map[string]string{}
	}
	ccf.Config.Labels[oci.LabelPredeploy] = from.String()
	if changed, err = mutate.ConfigFile(changed, ccf); err != nil {
		return nil, err
	}
	if changed, err = oci.OCI(changed); err != nil {
		return nil, err
	}
	if oci.IsTransport(d.o.Image) {
		return changed, nil
	}
	digest, err := d.home.Store().Put(context.Background(), oci.KindImage, d.target.name, changed)
	if err != nil {
		return nil, fmt.Errorf("storing %s: %w", d.target.name, err)
	}
	d.o.Console.Info("Stored %s (%s): the image with what predeploy changed in %s", d.target.name, console.ShortDigest(digest.String()), launch.AppDir)
	stored, _, err := d.home.Store().Image(oci.KindImage, d.target.name)
	return stored, err
}

// imageUser is the numeric "uid:gid" of the image's config, 0:0 when it
// names none or names a user by name.
func imageUser(cf *v1.ConfigFile) (uid, gid int) {
	u, g, _ := strings.Cut(cf.Config.User, ":")
	uid, _ = strconv.Atoi(u)
	gid, _ = strconv.Atoi(g)
	return max(uid, 0), max(gid, 0)
}
