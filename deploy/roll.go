package deploy

import (
	"context"

	"os"
	"os/signal"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rollOnRequest, for each replacement request, reloads the TLS
// certificate, runs the predeploy script and release phase of the image
// the name gives now, then replaces the processes one after another, each
// new one serving before the next is replaced, so that the formation never
// runs short, and runs postdeploy. A failed predeploy or release phase
// keeps every process as it is; a replacement that fails stops the roll,
// and the processes not yet replaced keep the old version.
func (d *deployment) rollOnRequest(ctx context.Context, requests <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-requests:
		}
		d.reloadCertificate()
		img, s, err := d.nextImage(ctx)
		if err == nil {
			err = d.releasePhase(ctx, img)
		}
		if err != nil {
			d.o.Console.Warn("not replacing: %v; the processes keep serving", err)
			continue
		}
		d.image.Store(&img)
		d.recordStatus()
		notify("RELOADING=1")
		done := d.roll(ctx)
		notify("READY=1")
		if done {
			d.postdeploy(ctx, img, s)
		}
	}
}

// nextImage is the image a replacement deploys: the one the name gives
// now, after its predeploy script, and its deploy scripts.
func (d *deployment) nextImage(ctx context.Context) (v1.Image, deployScripts, error) {
	img, err := d.target.resolve()
	if err != nil {
		return nil, deployScripts{}, err
	}
	m, err := readManifest(img)
	if err != nil {
		return nil, deployScripts{}, err
	}
	s, err := scriptsOf(m)
	if err != nil {
		return nil, s, err
	}
	img, err = d.predeploy(ctx, img, s)
	return img, s, err
}

// reloadCertificate reads the TLS certificate again, if there is one.
func (d *deployment) reloadCertificate() {
	if d.cert == nil {
		return
	}
	if err := d.cert.Reload(); err != nil {
		d.o.Console.Warn("%v; still serving the certificate read before", err)
		return
	}
	d.o.Console.Info("Reloaded the TLS certificate %s", d.o.TLSCert)
}

// roll replaces the processes one after another, and reports whether all
// were.
func (d *deployment) roll(ctx context.Context) bool {
	for _, s := range d.sups {
		select {
		case s.replace <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		var err error
		select {
		case err = <-s.replaced:
		case <-ctx.Done():
			return false
		}
		if err != nil {
			d.o.Console.Warn("replacement stopped: %v; the processes not replaced yet keep the old version", err)
			return false
		}
	}
	return true
}

// hangups turns SIGHUPs into replacement requests; requests made while
// one is pending are merged into it.
type hangups struct {
	signals  chan os.Signal
	requests chan struct{}
}

func replaceOnHangup() *hangups {
	h := &hangups{signals: make(chan os.Signal, 1), requests: make(chan struct{}, 1)}
	signal.Notify(h.signals, syscall.SIGHUP)
	go func() {
		for range h.signals {
			select {
			case h.requests <- struct{}{}:
			default:
			}
		}
	}()
	return h
}
