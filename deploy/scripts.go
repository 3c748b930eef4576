package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
)

// deployScripts are app.json's `scripts.dokku` commands.
type deployScripts struct {
	Predeploy  string `json:"predeploy"`
	Postdeploy string `json:"postdeploy"`
}

// scriptsOf reads app.json's `scripts.dokku`.
func scriptsOf(m *manifest) (deployScripts, error) {
	var s struct {
		Dokku deployScripts `json:"dokku"`
	}
	if len(m.Scripts) == 0 {
		return s.Dokku, nil
	}
	if err := json.Unmarshal(m.Scripts, &s); err != nil {
		return s.Dokku, fmt.Errorf("%w: the image's app.json scripts: %w (want {\"dokku\": {\"postdeploy\": \"…\"}})", ErrFormation, err)
	}
	return s.Dokku, nil
}

// postdeploy runs the image's postdeploy command once its processes
// serve, as a one-off process of it; a failure is reported, the
// processes keep serving.
func (d *deployment) postdeploy(ctx context.Context, img v1.Image, s deployScripts) {
	if s.Postdeploy == "" {
		return
	}
	start := time.Now()
	d.o.Console.Step("Running postdeploy: %s", s.Postdeploy)
	tail := console.NewTail(20)
	out := io.MultiWriter(console.NewPrefixer(d.o.Stdout, "postdeploy | "), tail)
	code, err := runOnce(ctx, d.rt, d.target, img, []string{"sh", "-c", s.Postdeploy}, d.o, out)
	switch {
	case err != nil:
		d.o.Console.Warn("postdeploy: %v", err)
	case code != 0:
		d.o.Console.Warn("postdeploy exited with status %d%s", code, tail.Quote())
	default:
		d.o.Console.Info("postdeploy done in %s", console.Duration(time.Since(start)))
	}
}

// notify tells systemd, when it started paas run as a Type=notify service
// ($NOTIFY_SOCKET), the state of the deploy: "READY=1" once every process
// of the formation runs, "RELOADING=1" while they are replaced,
// "STOPPING=1" when it stops. Without $NOTIFY_SOCKET it does nothing.
func notify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
