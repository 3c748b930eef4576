package oci

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paas-dev/paas/console"
)

// pushJobs is how many blobs a push uploads at once: enough to fill a link
// with a registry's per-request latency, few enough not to be throttled.
const pushJobs = 4

// Push uploads img to the registry reference ref, with the credentials
// docker and podman users already have (~/.docker/config.json and its
// credential helpers). Blobs the registry holds are not uploaded again; the
// others go up pushJobs at a time.
// When progress is not nil, lines reporting the bytes pushed are written to
// it as the upload advances.
func Push(ctx context.Context, img v1.Image, ref string, progress io.Writer) error {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidName, ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithJobs(pushJobs)}
	done := make(chan struct{})
	if progress != nil {
		updates := make(chan v1.Update, 64)
		opts = append(opts, remote.WithProgress(updates))
		go func() {
			defer close(done)
			reportProgress(updates, progress)
		}()
	} else {
		close(done)
	}
	err = remote.Write(r, img, opts...)
	<-done
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// reportProgress writes a line each time another tenth of the bytes is
// pushed, and one at the end, until updates is closed. Registries push
// many small updates; a line per tenth keeps a log readable.
func reportProgress(updates <-chan v1.Update, w io.Writer) {
	lastTenth := int64(-1)
	var last v1.Update
	for u := range updates {
		if u.Error != nil || u.Total <= 0 {
			continue
		}
		last = u
		if tenth := u.Complete * 10 / u.Total; tenth != lastTenth && u.Complete < u.Total {
			lastTenth = tenth
			fmt.Fprintf(w, "pushed %s of %s\n", console.Size(u.Complete), console.Size(u.Total))
		}
	}
	if last.Total > 0 && last.Complete == last.Total {
		fmt.Fprintf(w, "pushed %s of %s\n", console.Size(last.Complete), console.Size(last.Total))
	}
}
