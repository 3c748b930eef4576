package buildpack

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/layers"
)

// archiveFile is a local .tgz buildpack.
type archiveFile struct{ ref, path string }

// digest hashes the file, to check a cache entry against its content.
func (a archiveFile) digest() (string, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return "", fetchf(a.ref, "%w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fetchf(a.ref, "reading %s: %w", a.path, err)
	}
	return digestOf(h), nil
}

func (a archiveFile) fetch(ctx context.Context, dir string) (string, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return "", fetchf(a.ref, "%w", err)
	}
	defer f.Close()
	h := sha256.New()
	if err := unpackBuildpack(ctx, io.TeeReader(f, h), dir); err != nil {
		return "", invalidf(a.ref, "unpacking %s: %w", a.path, err)
	}
	// Hash the bytes after the gzip stream too, so the digest is the file's.
	if _, err := io.Copy(h, f); err != nil {
		return "", fetchf(a.ref, "reading %s: %w", a.path, err)
	}
	return digestOf(h), nil
}

// archiveURL is a .tgz buildpack served over http(s).
type archiveURL struct {
	ref, url string
	cas      []byte // PEM; nil: the host's
}

// fetch downloads to a temporary file while hashing, so a broken download
// (ErrFetch) is told apart from a broken archive (ErrInvalid), then unpacks.
func (a archiveURL) fetch(ctx context.Context, dir string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dir), "download-*.tgz")
	if err != nil {
		return "", fmt.Errorf("downloading buildpack: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	digest, err := a.download(ctx, tmp)
	if err != nil {
		return "", err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("downloading buildpack: %w", err)
	}
	if err := unpackBuildpack(ctx, tmp, dir); err != nil {
		return "", invalidf(a.ref, "unpacking: %w", err)
	}
	return digest, nil
}

// download writes the URL's body to w and returns its digest.
func (a archiveURL) download(ctx context.Context, w io.Writer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return "", fetchf(a.ref, "%w", err)
	}
	client, err := httpClient(a.cas)
	if err != nil {
		return "", fetchf(a.ref, "%w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fetchf(a.ref, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fetchf(a.ref, "GET %s: %s", a.url, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), resp.Body); err != nil {
		return "", fetchf(a.ref, "downloading %s: %w", a.url, err)
	}
	return digestOf(h), nil
}

// httpClient trusts the CAs of the PEM bundle cas, or the host's when nil.
func httpClient(cas []byte) (*http.Client, error) {
	if cas == nil {
		return http.DefaultClient, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cas) {
		return nil, errors.New("the CA bundle holds no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// maxBuildpackSize caps what one buildpack archive may unpack to. The
// largest buildpacks in use are tens of MiB; the cap leaves room for
// vendored toolchains while bounding what a hostile archive costs.
const maxBuildpackSize = 4 << 30

// unpackBuildpack unpacks a gzipped tar into dir, which must not exist. When
// bin/ is not at the archive's root but inside its only top-level directory
// (as in GitHub's release tarballs), that directory becomes dir.
func unpackBuildpack(ctx context.Context, r io.Reader, dir string) error {
	tmp := dir + ".unpack"
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	defer fsutil.RemoveAll(tmp)
	if err := untar(ctx, r, tmp); err != nil {
		return err
	}
	top := buildpackRoot(tmp)
	if err := linksInside(top); err != nil {
		return err
	}
	return os.Rename(top, dir)
}

// untar extracts a gzipped tar stream into the existing directory dir with
// layers.Unpack, under the extraction policy every archive gets.
func untar(ctx context.Context, r io.Reader, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	defer zr.Close()
	return layers.Unpack(zr, dir, layers.WithContext(ctx), layers.WithMaxSize(maxBuildpackSize))
}

// linksInside checks that every symlink under dir resolves inside it (or
// nowhere). Unpacking confined every write to the archive's root, but a
// buildpack is also read and copied on the host, where a link to /etc or
// out of a stripped top directory would lead out of it.
func linksInside(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		_, err = root.Stat(rel)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		target, _ := os.Readlink(p)
		return fmt.Errorf("%s: symlink to %q leaves the buildpack directory: %w", rel, target, err)
	})
}

// buildpackRoot returns dir, or its only subdirectory when that holds bin/
// and dir does not.
func buildpackRoot(dir string) string {
	if exists(filepath.Join(dir, "bin")) {
		return dir
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !entries[0].IsDir() {
		return dir
	}
	sub := filepath.Join(dir, entries[0].Name())
	if exists(filepath.Join(sub, "bin")) {
		return sub
	}
	return dir
}
