package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BuildKitd is a private buildkitd: its socket address and its root
// directory, where everything it keeps (snapshots, cache mounts, its
// databases) lives.
type BuildKitd struct {
	Address, Root string
	*daemon
}

var sharedKit sharedDaemon[*BuildKitd]

// buildkitdInstall says how to get the buildkitd the tests start.
const buildkitdInstall = "build the pinned version with scripts/install-buildkitd"

// BuildKit returns a real buildkitd private to this test binary (own root,
// socket and state under a temp dir; runc from Debian), started on first
// use. TestMain must call StopBuildKit after the tests run.
//
// It fails the test when not root or when buildkitd is not installed
// (scripts/install-buildkitd builds the pinned version, as .ci/run does).
func BuildKit(t testing.TB) *BuildKitd {
	t.Helper()
	return sharedKit.get(t, "buildkitd", buildkitdInstall, startBuildKit)
}

// StopBuildKit stops the shared buildkitd, if one was started, and
// removes its directories.
func StopBuildKit() { sharedKit.stop() }

func startBuildKit() (*BuildKitd, error) {
	// Unix socket paths must stay under 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "bkd-")
	if err != nil {
		return nil, err
	}
	return runBuildKit(dir, "unix", filepath.Join(dir, "buildkitd.sock"))
}

// runBuildKit starts buildkitd with everything it keeps under dir,
// listening on addr (a network and an address as net.Dial takes them),
// with extra flags, and waits until it listens. On failure dir is gone.
func runBuildKit(dir, network, addr string, extra ...string) (*BuildKitd, error) {
	root := filepath.Join(dir, "root")
	address := network + "://" + addr
	// No containerd worker: only the OCI one, on Debian's runc.
	args := append([]string{"--root", root, "--addr", address, "--containerd-worker=false", "--oci-worker=true"}, extra...)
	dmn, err := startDaemon(dir, "buildkitd", args...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &BuildKitd{Address: address, Root: root, daemon: dmn}
	err = d.waitReady(func() error {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// stop ends the daemon and removes its directory.
func (d *BuildKitd) stop() {
	d.stopProcess()
	d.remove()
}

// Grant lets the user uid (with gid) use the daemon until the test ends,
// as a fleet gives its clients access: the socket becomes theirs.
func (d *BuildKitd) Grant(t testing.TB, uid, gid int) {
	t.Helper()
	sock := strings.TrimPrefix(d.Address, "unix://")
	if err := os.Chmod(d.dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(sock, uid, gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Lchown(sock, 0, 0)
		_ = os.Chmod(d.dir, 0o700)
	})
}

// BuildKitTLS starts a buildkitd of the test's own, stopped when it ends,
// that listens on 127.0.0.1 over TLS with a certificate ca signed and
// takes only clients with one ca signed too. It returns its tcp://
// address.
func BuildKitTLS(t testing.TB, ca *CA) string {
	t.Helper()
	requireDaemon(t, "buildkitd", buildkitdInstall)
	dir, err := os.MkdirTemp("/tmp", "bkd-tls-")
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	ca.IssueFiles(t, 3, filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem"))
	if err := os.WriteFile(filepath.Join(certs, "ca.pem"), ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := l.Addr().String()
	l.Close()
	d, err := runBuildKit(dir, "tcp", hostPort, "--tlscert", filepath.Join(certs, "cert.pem"),
		"--tlskey", filepath.Join(certs, "key.pem"), "--tlscacert", filepath.Join(certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d.Address
}
