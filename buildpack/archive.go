package buildpack

import (
	"archive/tar"
	"context"
	"crypto/sha256"
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
	if err := unpackBuildpack(io.TeeReader(f, h), dir); err != nil {
		return "", invalidf(a.ref, "unpacking %s: %w", a.path, err)
	}
	// Hash the bytes after the gzip stream too, so the digest is the file's.
	if _, err := io.Copy(h, f); err != nil {
		return "", fetchf(a.ref, "reading %s: %w", a.path, err)
	}
	return digestOf(h), nil
}

// archiveURL is a .tgz buildpack served over http(s).
type archiveURL struct{ ref, url string }

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
	if err := unpackBuildpack(tmp, dir); err != nil {
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
	resp, err := http.DefaultClient.Do(req)
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

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// unpackBuildpack unpacks a gzipped tar into dir, which must not exist. When
// bin/ is not at the archive's root but inside its only top-level directory
// (as in GitHub's release tarballs), that directory becomes dir.
func unpackBuildpack(r io.Reader, dir string) error {
	tmp := dir + ".unpack"
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := untar(r, tmp); err != nil {
		return err
	}
	top := buildpackRoot(tmp)
	if top != tmp {
		// Links were checked against the archive's root; the stripped
		// directory is a smaller one that some may now leave.
		if err := linksInside(top); err != nil {
			return err
		}
	}
	return os.Rename(top, dir)
}

// linksInside checks that every symlink under dir stays inside it. untar
// stores cleaned targets below real directories only, so a lexical check is
// exact.
func linksInside(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if filepath.IsAbs(target) || !filepath.IsLocal(filepath.Join(filepath.Dir(rel), target)) {
			return fmt.Errorf("%s: symlink to %q leaves the buildpack directory", rel, target)
		}
		return nil
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

// untar extracts a gzipped tar stream into the existing directory dir.
// Every write goes through an os.Root, so no entry or symlink can reach
// outside dir; entries naming paths outside it are rejected outright.
func untar(r io.Reader, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := extract(root, hdr, tr); err != nil {
			return err
		}
	}
}

// extract writes one tar entry under root.
func extract(root *os.Root, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // metadata only, e.g. the commit id git archive records
	}
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the archive's root directory itself
	}
	if err := realParents(root, name); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, hdr.FileInfo().Mode().Perm()|0o700)
	case tar.TypeReg:
		return extractFile(root, name, hdr, r)
	case tar.TypeSymlink:
		return extractSymlink(root, name, hdr.Linkname)
	case tar.TypeLink:
		return extractHardlink(root, name, hdr.Linkname)
	}
	return fmt.Errorf("%s: unsupported entry type %q (only files, directories and links are allowed)", hdr.Name, hdr.Typeflag)
}

// entryName cleans a tar entry name and rejects absolute paths and paths
// that climb out with "..".
func entryName(name string) (string, error) {
	clean := filepath.Clean(name)
	if clean == "." {
		return clean, nil
	}
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("%s: entry path leaves the archive", name)
	}
	return clean, nil
}

func extractFile(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	if err := prepare(root, name); err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Chmod after writing: the umask must not strip the executable bits
	// that bin/detect and bin/compile depend on.
	return root.Chmod(name, hdr.FileInfo().Mode().Perm()|0o600)
}

// realParents rejects an entry whose parent path passes through a symlink.
// Together with the cleaned targets of extractSymlink this keeps every link
// inside dir: a link's ".." steps then climb real directories only, which a
// lexical check can count exactly.
func realParents(root *os.Root, name string) error {
	for dir := filepath.Dir(name); dir != "."; dir = filepath.Dir(dir) {
		fi, err := root.Lstat(dir)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: entry path goes through the symlink %s", name, dir)
		}
	}
	return nil
}

// extractSymlink creates a symlink whose target stays inside the archive:
// absolute targets and targets climbing above the root are rejected, since
// a copy of the buildpack would otherwise point at the host. The target is
// stored cleaned, so "l/.." means the directory holding l even where l is
// itself a symlink, and the check above holds for what the kernel resolves.
func extractSymlink(root *os.Root, name, target string) error {
	clean := filepath.Clean(target)
	if target == "" || filepath.IsAbs(clean) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), clean)) {
		return fmt.Errorf("%s: symlink to %q leaves the archive", name, target)
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Symlink(clean, name)
}

func extractHardlink(root *os.Root, name, target string) error {
	old, err := entryName(target)
	if err != nil || old == "." {
		return fmt.Errorf("%s: hard link to %q leaves the archive", name, target)
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Link(old, name)
}

// prepare makes name's parent directory and removes an earlier entry of
// the same name, as tar does when an archive lists a path twice.
func prepare(root *os.Root, name string) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
