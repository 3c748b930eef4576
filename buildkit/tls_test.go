package buildkit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/buildkit"
	"github.com/paas-dev/paas/internal/testenv"
)

// A daemon on tcp:// with mutual TLS is reached with --builder-tls-dir's
// ca.pem, cert.pem and key.pem, as buildctl's --tlsdir, and builds the
// image a local build makes; without the client certificate, or trusting
// another CA, paas cannot use it.
func TestBuildOnBuildKitOverTLS(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	ca := testenv.NewCA(t)
	addr := testenv.BuildKitTLS(t, ca)
	tlsDir := t.TempDir()
	ca.IssueFiles(t, 4, filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem"))
	if err := os.WriteFile(filepath.Join(tlsDir, "ca.pem"), ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]buildkit.Options{
		"no client certificate": {Address: addr, TLSDir: onlyCA(t, ca.PEM)},
		"another CA":            {Address: addr, TLSDir: onlyCA(t, testenv.NewCA(t).PEM)},
	} {
		if _, err := buildkit.Dial(context.Background(), o); !errors.Is(err, buildkit.ErrUnreachable) {
			t.Errorf("%s: Dial = %v, want %v", name, err, buildkit.ErrUnreachable)
		}
	}

	h := kitHome(t, "test")
	app := classicApp(t)
	env := map[string]string{"API_TOKEN": "tls"}
	local, _ := build(t, h, nil, "test", "tls-local", app, env)
	remote, out := buildWith(t, h, buildkit.Options{Address: addr, TLSDir: tlsDir}, "tls-kit", app, env)
	if remote.Digest != local.Digest {
		t.Errorf("BuildKit over TLS built %s, the local build %s: want the same image\n%s", remote.Digest, local.Digest, out)
	}
	// This daemon is new: it takes the stack in, and says so once.
	if n := strings.Count(out, "BuildKit is taking in the stack's build image (once per daemon)"); n != 1 {
		t.Errorf("the first build on a new daemon said %d times that it takes the stack in, want once:\n%s", n, out)
	}
}

// onlyCA returns a TLS directory holding ca.pem alone.
func onlyCA(t *testing.T, pem []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
