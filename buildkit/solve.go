package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/grpcerrors"
	"google.golang.org/grpc/codes"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

// solve runs the op and, unless out is "", unpacks what comes back into
// out. It comes as a tar stream (BuildKit's tar exporter) through paas's
// one extractor, layers.Unpack, whatever a buildpack made on the worker as
// root: paths stay inside out, extended attributes are not applied,
// set-user-ID and set-group-ID bits are dropped and device nodes skipped,
// so that nothing of the kind reaches the host, and an ordinary user
// unpacks it as well as root.
func (r *remote) solve(ctx context.Context, o *op, out string, cmd *sandbox.Cmd) error {
	def, err := o.result.Marshal(ctx)
	if err != nil {
		return fmt.Errorf("making the BuildKit definition: %w", err)
	}
	status := make(chan *client.SolveStatus)
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		r.showProgress(status, o.capture, cmd)
	}()
	opt := client.SolveOpt{
		LocalMounts: o.locals,
		OCIStores:   map[string]content.Store{storeID: r.store},
		Session:     []session.Attachable{secretsprovider.FromMap(o.secrets)},
	}
	if out == "" {
		_, err = r.b.c.Solve(ctx, def, opt, status)
		<-logged
		return solveError(ctx, err)
	}
	pr, pw := io.Pipe()
	unpacked := make(chan error, 1)
	go func() {
		err := layers.Unpack(pr, out, layers.WithContext(ctx), layers.AsTree())
		_ = pr.CloseWithError(err) // a failed unpack stops the export
		unpacked <- err
	}()
	opt.Exports = []client.ExportEntry{{Type: client.ExporterTar, Output: func(map[string]string) (io.WriteCloser, error) {
		return pw, nil
	}}}
	_, err = r.b.c.Solve(ctx, def, opt, status)
	<-logged
	// The export closes the stream when it ran; this ends it when it did not.
	_ = pw.CloseWithError(err)
	unpackErr := <-unpacked
	if unpackErr != nil && (err == nil || !errors.Is(unpackErr, err)) {
		// An unpack that failed first made the export fail too.
		return fmt.Errorf("unpacking what came back from BuildKit: %w", unpackErr)
	}
	return solveError(ctx, err)
}

// solveError says how an op failed: ctx's end as such, a command's exit
// status as a local sandbox's, a lost daemon as ErrUnreachable, anything
// else as itself.
func solveError(ctx context.Context, err error) error {
	var exit *gatewaypb.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%w (on BuildKit)", ctx.Err())
	case errors.As(err, &exit):
		return exitError(int(exit.ExitCode))
	case grpcerrors.Code(err) == codes.Unavailable:
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return fmt.Errorf("on BuildKit: %w", err)
}

// exitError is a command's non-zero status as a local sandbox reports it:
// a code past 128 is a signal's.
func exitError(code int) error {
	e := &sandbox.ExitError{Code: code}
	if code > 128 && code < 128+65 {
		e.Signal = syscall.Signal(code - 128)
	}
	return e
}

// showProgress writes the op's output as it comes: stream 1 to Stdout
// (unless it is captured in a file), stream 2 to Stderr; and says when the
// daemon starts taking in the stack, the one long wait before a command.
func (r *remote) showProgress(status <-chan *client.SolveStatus, captured bool, cmd *sandbox.Cmd) {
	for s := range status {
		for _, v := range s.Vertexes {
			if v.Name == stackVertex && v.Started != nil && v.Completed == nil && !v.Cached && r.cfg.Info != nil {
				r.loading.Do(func() { r.cfg.Info("BuildKit is taking in the stack's build image (once per daemon)") })
			}
		}
		for _, l := range s.Logs {
			switch {
			case l.Stream == 1 && !captured && cmd.Stdout != nil:
				_, _ = cmd.Stdout.Write(l.Data)
			case l.Stream == 2 && cmd.Stderr != nil:
				_, _ = cmd.Stderr.Write(l.Data)
			}
		}
	}
}

// bringBack puts what the command left in its writable mounts in their
// host sources; what they held goes into work, which the caller removes.
func (o *op) bringBack(out, work string) error {
	for i, m := range o.back {
		name := "back" + strconv.Itoa(i)
		err := os.Rename(m.Source, filepath.Join(work, name+".old"))
		if err == nil {
			err = os.Rename(filepath.Join(out, name, filepath.Base(m.Source)), m.Source)
		}
		if err != nil {
			return fmt.Errorf("bringing %s back from BuildKit: %w", m.Target, err)
		}
	}
	return nil
}

// delivered writes a captured stdout to w and returns the command's exit
// status as an error. The command could swap either file for a link or a
// FIFO: they are only read as regular files inside out/stdout.
func delivered(out string, w io.Writer) error {
	root, err := os.OpenRoot(filepath.Join(out, "stdout"))
	if err != nil {
		return fmt.Errorf("reading the command's output from BuildKit: %w", err)
	}
	defer root.Close()
	status, err := fsutil.ReadRegular(root, "status", 16)
	if err != nil {
		return fmt.Errorf("reading the command's exit status from BuildKit: %w", err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(status)))
	if err != nil {
		return fmt.Errorf("reading the command's exit status from BuildKit: %q", status)
	}
	data, err := fsutil.ReadRegular(root, "out", maxCaptured+1)
	if err != nil {
		return fmt.Errorf("reading the command's output from BuildKit: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if code != 0 {
		return exitError(code)
	}
	return nil
}
