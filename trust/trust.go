// Package trust gathers the certificate authorities a build trusts: the
// host's own trust store (with locally added anchors, as behind a
// TLS-inspecting proxy), certificates named with --ca-cert, and a stack's
// bundle. Builds present the merged set to buildpacks in place of the
// stack's bundle, so downloads work on networks that users have, without
// writing anything into the image.
package trust

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/paas-dev/paas/fsutil"
)

// BundlePaths are where Linux distributions keep their PEM bundle of
// trusted certificates, most common first (the list Go's crypto/x509
// searches): Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine.
var BundlePaths = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// localAnchorDirs hold certificates an administrator added that
// update-ca-certificates (or update-ca-trust) may not have merged into the
// bundle yet.
var localAnchorDirs = []string{
	"/usr/local/share/ca-certificates",
	"/etc/pki/ca-trust/source/anchors",
}

// ErrNoCertificate reports a file that holds no PEM certificate.
var ErrNoCertificate = errors.New("no PEM certificate found")

// Pool is an ordered set of CA certificates, each kept once.
type Pool struct {
	blocks [][]byte // PEM encodings, in the order added
	seen   map[[sha256.Size]byte]bool
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{seen: map[[sha256.Size]byte]bool{}} }

// Len returns the number of certificates in the pool.
func (p *Pool) Len() int { return len(p.blocks) }

// AddPEM adds every certificate of a PEM document that parses, skipping
// other blocks, and returns how many it found (new or not).
func (p *Pool) AddPEM(data []byte) int {
	found := certificates(data)
	for _, der := range found {
		sum := sha256.Sum256(der)
		if !p.seen[sum] {
			p.seen[sum] = true
			p.blocks = append(p.blocks, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		}
	}
	return len(found)
}

// certificates returns the DER bytes of the certificates in a PEM document.
func certificates(data []byte) [][]byte {
	var out [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			out = append(out, block.Bytes)
		}
	}
}

// AddFile adds the certificates of a PEM file; a file with none is an
// error, since naming it was surely meant to trust something.
func (p *Pool) AddFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if p.AddPEM(data) == 0 {
		return fmt.Errorf("%s: %w", path, ErrNoCertificate)
	}
	return nil
}

// Merge adds every certificate of q.
func (p *Pool) Merge(q *Pool) {
	for _, b := range q.blocks {
		p.AddPEM(b)
	}
}

// PEM returns the pool as one PEM bundle.
func (p *Pool) PEM() []byte { return bytes.Join(p.blocks, nil) }

// Host returns the certificate authorities this machine trusts: the file
// named by SSL_CERT_FILE when set (as Go and OpenSSL honour it), else the
// first system bundle found, plus locally added anchors. A machine with
// none gives an empty pool.
func Host() (*Pool, error) {
	p := NewPool()
	bundles := BundlePaths
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		bundles = []string{f}
	}
	for _, f := range bundles {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the host's CA bundle: %w", err)
		}
		p.AddPEM(data)
		break
	}
	for _, dir := range localAnchorDirs {
		if err := p.addDir(dir); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addDir adds the certificates of every file under dir; unreadable or
// non-certificate files are skipped, as update-ca-certificates does.
func (p *Pool) addDir(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if data, err := os.ReadFile(path); err == nil {
				p.AddPEM(data)
			}
		}
		return nil // an unreadable entry is skipped, not an error
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading local CA certificates in %s: %w", dir, err)
	}
	return nil
}

// maxBundle bounds a stack's CA bundle (Debian's is about 200 KB).
const maxBundle = 16 << 20

// StackBundle returns where the root filesystem at rootfs keeps its CA
// bundle (a path inside it, from BundlePaths) and the certificates it
// holds. Links are resolved inside rootfs, never on the host. A stack with
// no bundle gives the Debian path and an empty pool.
func StackBundle(rootfs string) (string, *Pool, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return "", nil, fmt.Errorf("opening the stack's root filesystem: %w", err)
	}
	defer root.Close()
	p := NewPool()
	for _, path := range BundlePaths {
		data, err := fsutil.ReadRegular(root, path[1:], maxBundle)
		if err != nil {
			continue
		}
		p.AddPEM(data)
		return path, p, nil
	}
	return BundlePaths[0], p, nil
}
