// Package buildkit runs a build's buildpack phases on an existing BuildKit
// daemon (buildkitd) instead of paas's own sandbox, through BuildKit's Go
// client and LLB.
//
// Each command a build runs is one exec op on the stack's build image, which
// BuildKit reads from paas's store through the session. The build's
// directories travel as session sources: what a command may change (the
// working copy at /app, the buildpacks) comes back to the host after it, so
// the lifecycle reads and exports the result exactly as after a local build,
// and the image has the same digest. CACHE_DIR is a BuildKit cache mount
// named after the app, which every worker of a fleet can share; ENV_DIR is
// made of secret mounts, which BuildKit neither caches nor stores.
package buildkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	// BuildKit's client reaches these schemes through connection helpers
	// that register themselves.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"
	_ "github.com/moby/buildkit/client/connhelper/ssh"

	"github.com/paas-dev/paas/fault"
)

// HostEnv is the variable BuildKit's own tools read the daemon's address
// from; --builder wins over it.
const HostEnv = "BUILDKIT_HOST"

// ErrAddress reports a --builder address or TLS files paas cannot use.
var ErrAddress = fault.New(fault.Usage, "bad BuildKit address or TLS files")

// ErrUnreachable reports a BuildKit daemon that does not answer or has no
// worker: like a sandbox the machine refuses, nothing can run the build.
var ErrUnreachable = fault.New(fault.Sandbox, "BuildKit daemon unreachable")

// Options name a BuildKit daemon.
type Options struct {
	// Address is where buildkitd listens: unix://PATH, tcp://HOST:PORT,
	// kube-pod://POD, docker-container://NAME, podman-container://NAME or
	// ssh://HOST, as BuildKit's client accepts.
	Address string
	// TLSDir holds ca.pem, and cert.pem with key.pem for client
	// authentication, as buildctl's --tlsdir; files that are missing are not
	// used. ServerName overrides the name the server's certificate must
	// have.
	TLSDir, ServerName string
}

// Builder is a connection to one BuildKit daemon.
type Builder struct {
	c    *client.Client
	addr string
}

// Dial connects to the daemon and checks that it has a worker, so that a
// wrong address fails before the build starts.
func Dial(ctx context.Context, o Options) (*Builder, error) {
	if err := checkAddress(o.Address); err != nil {
		return nil, fmt.Errorf("%w: %q %w: give %s", ErrAddress, o.Address, err, schemes)
	}
	opts, err := tlsOptions(o)
	if err != nil {
		return nil, err
	}
	c, err := client.New(ctx, o.Address, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrAddress, o.Address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	workers, err := c.ListWorkers(ctx)
	if err == nil && len(workers) == 0 {
		err = errors.New("it has no worker")
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, o.Address, err)
	}
	return &Builder{c: c, addr: o.Address}, nil
}

// schemes are the addresses BuildKit's client takes, as said to people.
const schemes = "unix://PATH, tcp://HOST:PORT, kube-pod://POD, docker-container://NAME, podman-container://NAME or ssh://HOST"

// checkAddress catches malformed addresses, which BuildKit's client only
// reports as a failed dial, as if the daemon were down.
func checkAddress(addr string) error {
	scheme, rest, ok := strings.Cut(addr, "://")
	switch {
	case !ok:
		return errors.New("has no scheme")
	case rest == "":
		return errors.New("names nothing after the scheme")
	}
	switch scheme {
	case "unix", "kube-pod", "docker-container", "podman-container", "nerdctl-container", "ssh":
		return nil
	case "tcp":
		if _, port, err := net.SplitHostPort(rest); err != nil || port == "" {
			return errors.New("is not tcp://HOST:PORT")
		}
		return nil
	}
	return fmt.Errorf("has the unknown scheme %s://", scheme)
}

func tlsOptions(o Options) ([]client.ClientOpt, error) {
	if o.TLSDir == "" {
		if o.ServerName != "" {
			return []client.ClientOpt{client.WithServerConfigSystem(o.ServerName)}, nil
		}
		return nil, nil
	}
	if st, err := os.Stat(o.TLSDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: the TLS directory %s is not a directory (it holds ca.pem, cert.pem and key.pem)", ErrAddress, o.TLSDir)
	}
	ca := filepath.Join(o.TLSDir, "ca.pem")
	cert, key := filepath.Join(o.TLSDir, "cert.pem"), filepath.Join(o.TLSDir, "key.pem")
	var opts []client.ClientOpt
	if exists(ca) {
		opts = append(opts, client.WithServerConfig(o.ServerName, ca))
	} else {
		opts = append(opts, client.WithServerConfigSystem(o.ServerName))
	}
	if exists(cert) || exists(key) {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return nil, fmt.Errorf("%w: the client certificate in %s: %w", ErrAddress, o.TLSDir, err)
		}
		opts = append(opts, client.WithCredentials(cert, key))
	}
	return opts, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Address is the daemon's address, as given.
func (b *Builder) Address() string { return b.addr }

// Close closes the connection.
func (b *Builder) Close() error { return b.c.Close() }
