package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultNamespace is the containerd namespace paas uses unless told
// otherwise, which keeps its containers apart from other tools'.
const DefaultNamespace = "paas"

// ErrUnreachable reports that containerd's socket does not answer or may
// not be used by this user; callers may fall back to the sandbox runtime.
var ErrUnreachable = errors.New("containerd unreachable")

// connectTimeout bounds how long NewContainerd waits for the daemon, so
// that a missing or hung containerd is reported quickly.
const connectTimeout = 3 * time.Second

// snapshotter is the snapshotter images are unpacked with and containers
// get their root filesystems from: containerd's default, overlayfs.
const snapshotter = defaults.DefaultSnapshotter

// containerdRuntime runs processes as containerd tasks.
type containerdRuntime struct {
	client *client.Client
	// fifoDir holds the task stdio FIFOs; it is ours, so users allowed to
	// use the socket need no access to /run/containerd.
	fifoDir string
}

// NewContainerd connects to the containerd daemon at address and uses
// namespace (DefaultNamespace when empty). It fails within a few seconds,
// with an error wrapping ErrUnreachable, when the daemon does not answer
// or the socket may not be used.
//
// Images it runs stay in containerd after their processes are stopped (the
// image record named Spec.ImageName, its content and its unpacked
// snapshots), so the next start of the same image imports and unpacks
// nothing; containerd's garbage collector reclaims them once the record
// is deleted.
func NewContainerd(ctx context.Context, address, namespace string) (_ Runtime, retErr error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if err := probeSocket(address); err != nil {
		return nil, unreachable(address, err)
	}
	c, err := client.New(address, client.WithDefaultNamespace(namespace), client.WithTimeout(connectTimeout))
	if err != nil {
		return nil, unreachable(address, err)
	}
	defer func() {
		if retErr != nil {
			c.Close()
		}
	}()
	vctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := c.Version(vctx); err != nil {
		return nil, unreachable(address, err)
	}
	fifoDir, err := os.MkdirTemp("", "paas-fifo-")
	if err != nil {
		return nil, fmt.Errorf("creating FIFO directory: %w", err)
	}
	return &containerdRuntime{client: c, fifoDir: fifoDir}, nil
}

// probeSocket connects to the socket once, which tells a missing daemon,
// a refused connection and a permission problem apart at once, where the
// gRPC client would retry until its timeout.
func probeSocket(address string) error {
	conn, err := net.DialTimeout("unix", strings.TrimPrefix(address, "unix://"), connectTimeout)
	if err != nil {
		return err
	}
	return conn.Close()
}

func unreachable(address string, err error) error {
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, address, err)
}

// Name returns "containerd".
func (r *containerdRuntime) Name() string { return "containerd" }

// Close closes the connection to containerd.
func (r *containerdRuntime) Close() error {
	err := r.client.Close()
	if rmErr := os.RemoveAll(r.fifoDir); err == nil {
		err = rmErr
	}
	return err
}

// Start imports spec.Image into containerd unless it is there already,
// then creates a container and starts its task.
func (r *containerdRuntime) Start(ctx context.Context, spec Spec) (_ Process, retErr error) {
	_, args, err := specCommand(spec)
	if err != nil {
		return nil, err
	}
	img, err := r.prepareImage(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	ctr, err := r.newContainer(ctx, spec, img, args)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			_ = ctr.Delete(cctx, client.WithSnapshotCleanup)
		}
	}()
	p, err := r.startTask(ctx, ctr, spec)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.ID, err)
	}
	return p, nil
}

// newContainer creates the container: the image's config with args and
// spec.Env, the host's network (paas chooses the PORT the app listens on,
// and its proxy reaches it on the host) and the host's resolv.conf and
// hosts, on a new snapshot of the image.
func (r *containerdRuntime) newContainer(ctx context.Context, spec Spec, img client.Image, args []string) (client.Container, error) {
	key := snapshotKey(spec.ID)
	ctr, err := r.client.NewContainer(ctx, spec.ID,
		client.WithImage(img),
		client.WithSnapshotter(snapshotter),
		client.WithNewSnapshot(key, img),
		client.WithNewSpec(
			oci.WithImageConfig(img),
			oci.WithProcessArgs(args...),
			oci.WithEnv(spec.Env),
			oci.WithHostNamespace(specs.NetworkNamespace),
			oci.WithHostResolvconf,
			oci.WithHostHostsFile,
		))
	if err == nil {
		return ctr, nil
	}
	// The snapshot is made before the spec and the container record, so
	// it outlives their failure; one that already existed is another
	// process's and stays.
	if !errdefs.IsAlreadyExists(err) {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if rmErr := r.client.SnapshotService(snapshotter).Remove(cctx, key); rmErr != nil && !errdefs.IsNotFound(rmErr) {
			err = fmt.Errorf("%w (and removing snapshot %s: %w)", err, key, rmErr)
		}
	}
	return nil, fmt.Errorf("creating container: %w", err)
}

// snapshotKey names the writable snapshot of the container for id.
func snapshotKey(id string) string { return id + "-snapshot" }

// startTask creates and starts the container's task with its output
// streamed to spec's writers, and watches for its exit.
func (r *containerdRuntime) startTask(ctx context.Context, ctr client.Container, spec Spec) (_ *containerdProcess, retErr error) {
	streams := cio.WithStreams(nil, orDiscard(spec.Stdout), orDiscard(spec.Stderr))
	task, err := ctr.NewTask(ctx, cio.NewCreator(streams, cio.WithFIFODir(r.fifoDir)))
	if err != nil {
		return nil, fmt.Errorf("creating task: %w", err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			_, _ = task.Delete(cctx, client.WithProcessKill)
		}
	}()
	// The wait outlives Start's context: it ends when the process does.
	exited, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("waiting for task: %w", err)
	}
	if err := task.Start(ctx); err != nil {
		return nil, fmt.Errorf("starting task: %w", err)
	}
	p := &containerdProcess{id: spec.ID, container: ctr, task: task, done: make(chan struct{})}
	go p.wait(exited)
	return p, nil
}

// prepareImage makes spec.Image available as an unpacked containerd image.
// A lease keeps the new content from containerd's garbage collector until
// the image record refers to it.
func (r *containerdRuntime) prepareImage(ctx context.Context, spec Spec) (client.Image, error) {
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating lease: %w", err)
	}
	// Releasing the lease is best-effort: one left behind expires by itself.
	defer func() { _ = done(context.WithoutCancel(ctx)) }()
	target, err := importImage(ctx, r.client.ContentStore(), spec.Image)
	if err != nil {
		return nil, err
	}
	img, err := r.recordImage(ctx, imageName(spec.ImageName, target.Digest.String()), target)
	if err != nil {
		return nil, err
	}
	return img, unpack(ctx, img)
}

// imageName is the record name for an image: name, or its digest.
func imageName(name, digest string) string {
	if name != "" {
		return name
	}
	return digest
}

// unpack unpacks img into snapshots unless that was done before.
func unpack(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, snapshotter)
	if err != nil {
		return fmt.Errorf("checking image %s: %w", img.Name(), err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, snapshotter); err != nil {
		return fmt.Errorf("unpacking image %s: %w", img.Name(), err)
	}
	return nil
}
