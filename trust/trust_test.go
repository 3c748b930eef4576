package trust

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

func TestPoolKeepsEachCertificateOnce(t *testing.T) {
	a, b := testenv.NewCA(t).PEM, testenv.NewCA(t).PEM
	p := NewPool()
	junk := []byte("# comment\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	if n := p.AddPEM(bytes.Join([][]byte{a, junk, b, a}, []byte("\n"))); n != 3 {
		t.Errorf("AddPEM found %d certificates, want 3", n)
	}
	if p.Len() != 2 {
		t.Errorf("Len() = %d, want 2", p.Len())
	}
	q := NewPool()
	q.AddPEM(b)
	q.Merge(p)
	if want := append(append([]byte{}, b...), a...); !bytes.Equal(q.PEM(), want) {
		t.Errorf("merged PEM is not b then a:\n%s", q.PEM())
	}
}

func TestAddFileRefusesFilesWithoutCertificates(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewPool().AddFile(bad); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("AddFile(%s) = %v, want ErrNoCertificate", bad, err)
	}
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, testenv.NewCA(t).PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	p := NewPool()
	for range 2 {
		if err := p.AddFile(good); err != nil {
			t.Errorf("AddFile(%s) = %v", good, err)
		}
	}
	if err := p.AddFile(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("AddFile of a missing file succeeded")
	}
}

func TestHostHonoursSSLCertFile(t *testing.T) {
	ca := testenv.NewCA(t)
	f := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(f, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", f)
	p, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(p.PEM(), ca.PEM) {
		t.Error("Host() lacks the certificate of SSL_CERT_FILE")
	}
}

func TestStackBundle(t *testing.T) {
	ca := testenv.NewCA(t)
	tests := []struct {
		name     string
		make     func(t *testing.T, root string)
		wantPath string
		wantLen  int
	}{
		{"debian", func(t *testing.T, root string) {
			write(t, root, "etc/ssl/certs/ca-certificates.crt", ca.PEM)
		}, "/etc/ssl/certs/ca-certificates.crt", 1},
		{"fedora", func(t *testing.T, root string) {
			write(t, root, "etc/pki/tls/certs/ca-bundle.crt", ca.PEM)
		}, "/etc/pki/tls/certs/ca-bundle.crt", 1},
		{"none", func(t *testing.T, root string) {}, "/etc/ssl/certs/ca-certificates.crt", 0},
		// A link out of the stack is never followed to the host.
		{"escaping link", func(t *testing.T, root string) {
			host := filepath.Join(t.TempDir(), "host.pem")
			if err := os.WriteFile(host, ca.PEM, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, "etc/ssl/certs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil {
				t.Fatal(err)
			}
		}, "/etc/ssl/certs/ca-certificates.crt", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.make(t, root)
			path, p, err := StackBundle(root)
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.wantPath || p.Len() != tt.wantLen {
				t.Errorf("StackBundle() = %s with %d certificates, want %s with %d", path, p.Len(), tt.wantPath, tt.wantLen)
			}
		})
	}
}

func write(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
