package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/runner"
)

// startReady starts a new process and waits until it passes its checks.
// A process that never becomes ready is stopped, and the error carries its
// last output.
func (s *Supervisor) startReady(ctx context.Context) (_ *instance, retErr error) {
	in, err := s.start(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = in.proc.Stop(context.WithoutCancel(ctx), s.o.StopTimeout)
		}
	}()
	if !s.web() {
		return in, nil
	}
	s.o.Console.Info("Waiting for %s on %s to pass its checks", in.name, in.addr)
	opts := []health.Option{health.WithLog(s.o.Console.Writer())}
	if s.o.ListenTimeout > 0 {
		opts = append(opts, health.WithListenTimeout(s.o.ListenTimeout))
	}
	if err := health.Wait(ctx, in.addr, s.o.Checks, in.proc.Done(), opts...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %w%s", ErrNotReady, in.name, err, in.tail.Quote())
	}
	return in, nil
}

// start starts one process of the type on a free loopback port.
func (s *Supervisor) start(ctx context.Context) (*instance, error) {
	img, err := s.o.Resolve()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.seq++
	n := s.o.Index + (s.seq-1)*s.o.Count
	name := fmt.Sprintf("%s.%d", s.o.Process, n)
	tail := console.NewTail(20)
	out := io.MultiWriter(console.NewPrefixer(s.o.Output, name+" | "), tail)
	// HOST tells apps that honour it (paas-static, many Node.js servers)
	// to listen on loopback only: processes share the host's network, and
	// clients must come through the proxy.
	env := append([]string{"PORT=" + strconv.Itoa(port), "HOST=127.0.0.1", "PAAS_PROCESS_TYPE=" + s.o.Process}, s.o.Env...)
	proc, err := s.o.Runtime.Start(ctx, runner.Spec{
		ID:        containerID(s.o.AppName, s.o.Process, n),
		Image:     img,
		ImageName: s.o.ImageName,
		Args:      []string{s.o.Process},
		Env:       env,
		Stdout:    out,
		Stderr:    out,
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.o.Console.Info("Started %s with %s (PORT=%d)", name, s.o.Runtime.Name(), port)
	return &instance{name: name, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), proc: proc, tail: tail, started: time.Now()}, nil
}

// freePort asks the kernel for a loopback port nobody uses. The process
// binds it a moment later; the kernel hands out ports in a rotating order,
// so reuse in between is unlikely, and a clash fails the checks loudly.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var idChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// containerID is unique per process start: app, type, sequence and a
// random suffix, so two paas run of one app never collide in containerd.
func containerID(app, typ string, seq int) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := idChars.ReplaceAllString(strings.ReplaceAll(app, ":", "-"), "-")
	return fmt.Sprintf("%s-%s-%d-%s", strings.Trim(base, "-."), typ, seq, hex.EncodeToString(b[:]))
}
