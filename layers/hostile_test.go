package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
)

// errAny stands for "some error" where the kernel's choice does not matter.
var errAny = errors.New("any error")

// hostileCase is one crafted archive that tries to get past the extraction
// policy. The same archives seed FuzzUnpack (testdata/fuzz/FuzzUnpack).
type hostileCase struct {
	name string
	// tar builds the archive; outside is an absolute directory next to the
	// root holding a file "secret".
	tar     func(outside string) []byte
	opts    []UnpackOption
	wantErr error // nil, errAny or what errors.Is must find
	check   func(t *testing.T, root, outside string)
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{name: "whiteout-dotdot", tar: entriesTar(fileE(".wh...", "")), wantErr: ErrUnsafeEntry},
		{name: "whiteout-dotdot-in-dir", tar: entriesTar(dirE("a/"), fileE("a/.wh...", "")), wantErr: ErrUnsafeEntry},
		{name: "whiteout-dot", tar: entriesTar(fileE(".wh..", "")), wantErr: ErrUnsafeEntry},
		{name: "whiteout-empty", tar: entriesTar(fileE("a/.wh.", "")), wantErr: ErrUnsafeEntry},
		{
			name: "whiteout-through-symlink",
			tar: func(o string) []byte {
				return makeTarNoT(linkE("w", o), fileE("w/.wh.secret", ""), linkE("up", ".."), fileE("up/.wh.outside", ""))
			},
		},
		{
			name:  "dotdot-path",
			tar:   entriesTar(fileE("../outside/secret", "pwned"), fileE("a/../../../outside/new", "x")),
			check: exists("outside/secret", "outside/new"),
		},
		{
			name:  "absolute-path",
			tar:   func(o string) []byte { return makeTarNoT(fileE(o+"/secret", "pwned")) },
			check: func(t *testing.T, root, o string) { exists(o+"/secret")(t, root, o) },
		},
		{
			name:    "symlinked-parent-relative",
			tar:     entriesTar(linkE("out", "../outside"), fileE("out/secret", "pwned")),
			wantErr: errAny, // the link resolves to root/outside, which does not exist
		},
		{
			name:  "symlinked-parent-absolute",
			tar:   func(o string) []byte { return makeTarNoT(dirE(o+"/"), linkE("out", o), fileE("out/secret", "pwned")) },
			check: func(t *testing.T, root, o string) { exists(o+"/secret")(t, root, o) },
		},
		{name: "symlink-loop", tar: entriesTar(linkE("a", "b"), linkE("b", "a"), fileE("a/loop", "x")), wantErr: unix.ELOOP},
		{name: "hardlink-outside", tar: func(o string) []byte { return makeTarNoT(hardE("h", o+"/secret")) }, wantErr: errAny},
		{name: "hardlink-dotdot", tar: entriesTar(hardE("h", "../outside/secret")), wantErr: errAny},
		{
			name:    "hardlink-through-symlink",
			tar:     func(o string) []byte { return makeTarNoT(linkE("out", o), hardE("h", "out/secret")) },
			wantErr: errAny,
		},
		{
			name: "setuid-file",
			tar: entriesTar(
				tarEntry{name: "suid", body: "x", mode: 0o4755},
				tarEntry{name: "sgid", body: "x", mode: 0o2755},
				tarEntry{name: "sgid-dir/", typ: tar.TypeDir, mode: 0o2775},
			),
			check: modes(map[string]fs.FileMode{"suid": 0o755, "sgid": 0o755, "sgid-dir": fs.ModeDir | fs.ModeSetgid | 0o775}),
		},
		{
			name:  "device-nodes",
			tar:   entriesTar(dirE("dev/"), nullDevice(), tarEntry{name: "dev/sda", typ: tar.TypeBlock, mode: 0o666, major: 8}),
			check: missing("dev/null", "dev/sda"),
		},
		{name: "sparse-bomb", tar: rawTarOf(sparseBomb("bomb", 256<<20)), check: sparse("bomb", 256<<20)},
		{name: "sparse-bomb-over-cap", tar: rawTarOf(sparseBomb("bomb", 1<<40)), wantErr: ErrLimit, check: missing("bomb")},
		{
			name:    "huge-declared-size",
			tar:     rawTarOf(rawEntry{hdr: rawHeader{name: "huge", typ: tar.TypeReg, size: 1 << 40}}),
			wantErr: ErrLimit,
			check:   missing("huge"),
		},
		{
			name:    "size-cap",
			tar:     entriesTar(fileE("small", "12345"), fileE("big", "1234567")),
			opts:    []UnpackOption{WithMaxSize(10)},
			wantErr: ErrLimit,
			check:   missing("big"),
		},
		{
			name:    "entry-cap",
			tar:     entriesTar(fileE("1", ""), fileE("2", ""), fileE("3", "")),
			opts:    []UnpackOption{WithMaxEntries(2)},
			wantErr: ErrLimit,
			check:   missing("3"),
		},
		{
			// A NUL ends a tar name: this is the file "a", nothing further.
			name:  "nul-in-name",
			tar:   rawTarOf(rawEntry{hdr: rawHeader{name: "a\x00/../../outside/secret", typ: tar.TypeReg, size: 5}, data: []byte("pwned")}),
			check: exists("a"),
		},
		{name: "long-name", tar: entriesTar(fileE(strings.Repeat("n", 300), "x")), wantErr: unix.ENAMETOOLONG},
		{name: "deep-path", tar: entriesTar(fileE(strings.Repeat("d/", 2100)+"f", "x")), wantErr: unix.ENAMETOOLONG},
		{
			name:    "diffid-mismatch",
			tar:     entriesTar(fileE("f", "x")),
			opts:    []UnpackOption{WithDiffID(sha256Of([]byte("another layer")))},
			wantErr: ErrDiffIDMismatch,
		},
	}
}

// TestUnpackHostile unpacks each hostile archive into a root next to a
// directory it must not touch, as the caller and, for root, as an ordinary
// user too: ownership and mknod depend on who unpacks.
func TestUnpackHostile(t *testing.T) {
	asCallerAndUnprivileged(t, func(t *testing.T) {
		for _, tt := range hostileCases() {
			t.Run(tt.name, func(t *testing.T) { runHostile(t, tt) })
		}
	})
}

func runHostile(t *testing.T, tt hostileCase) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	prepareOutside(t, outside)
	before := snapshot(t, base)
	root := filepath.Join(base, "root")
	t.Cleanup(func() { fsutil.RemoveAll(root) })
	err := Unpack(bytes.NewReader(tt.tar(outside)), root, tt.opts...)
	switch {
	case tt.wantErr == nil && err != nil, tt.wantErr != nil && err == nil:
		t.Errorf("Unpack() = %v, want error %v", err, tt.wantErr)
	case tt.wantErr != nil && !errors.Is(tt.wantErr, errAny) && !errors.Is(err, tt.wantErr):
		t.Errorf("Unpack() = %v, want %v", err, tt.wantErr)
	}
	if diffs := diffSnapshots(snapshotOutside(t, base, "root"), before); len(diffs) > 0 {
		t.Errorf("Unpack() changed files outside its root:\n%s", strings.Join(diffs, "\n"))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(outside, "secret"), &st); err != nil || st.Nlink != 1 {
		t.Errorf("links to the outside secret = %d, %v, want 1", st.Nlink, err)
	}
	if tt.check != nil {
		tt.check(t, root, outside)
	}
}

// entriesTar, makeTarNoT and rawTarOf build a case's archive.
func entriesTar(es ...tarEntry) func(string) []byte {
	return func(string) []byte { return makeTarNoT(es...) }
}

func rawTarOf(es ...rawEntry) func(string) []byte {
	return func(string) []byte { return rawTar(es...) }
}

// makeTarNoT is tarOf for the fixed archives of the cases, which cannot
// fail unless the case itself is wrong.
func makeTarNoT(es ...tarEntry) []byte {
	b, err := tarOf(es...)
	if err != nil {
		panic(err)
	}
	return b
}

func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// exists checks that each path is in the root.
func exists(paths ...string) func(*testing.T, string, string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
				t.Errorf("Lstat(%s) = %v, want it inside the root", p, err)
			}
		}
	}
}

// missing checks that no path is in the root.
func missing(paths ...string) func(*testing.T, string, string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lstat(%s) = %v, want %v", p, err, fs.ErrNotExist)
			}
		}
	}
}

// modes checks the mode of each path.
func modes(want map[string]fs.FileMode) func(*testing.T, string, string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		for p, mode := range want {
			fi, err := os.Lstat(filepath.Join(root, p))
			if err != nil || fi.Mode() != mode {
				t.Errorf("Lstat(%s) = %v, %v, want mode %v", p, fi.Mode(), err, mode)
			}
		}
	}
}

// sparse checks that p reads as size bytes but holds almost no disk.
func sparse(p string, size int64) func(*testing.T, string, string) {
	return func(t *testing.T, root, _ string) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, p), &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != size || st.Blocks*512 > 1<<20 {
			t.Errorf("%s: size %d using %d bytes of disk, want size %d using at most 1 MiB", p, st.Size, st.Blocks*512, size)
		}
	}
}

func TestUnpackDiffID(t *testing.T) {
	layer := makeTar(t, fileE("f", "x"))
	padded := append(append([]byte{}, layer...), make([]byte, 1024)...)
	tests := []struct {
		name    string
		tar     []byte
		diffID  v1.Hash
		wantErr error
	}{
		{name: "match", tar: layer, diffID: sha256Of(layer)},
		{name: "match with trailing padding", tar: padded, diffID: sha256Of(padded)},
		{name: "padding not hashed is a mismatch", tar: padded, diffID: sha256Of(layer), wantErr: ErrDiffIDMismatch},
		{name: "other layer", tar: layer, diffID: sha256Of([]byte("other")), wantErr: ErrDiffIDMismatch},
		{name: "not sha256", tar: layer, diffID: v1.Hash{Algorithm: "md5", Hex: "00"}, wantErr: ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unpack(bytes.NewReader(tt.tar), t.TempDir(), WithDiffID(tt.diffID))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Unpack(WithDiffID(%s)) = %v, want %v", tt.diffID, err, tt.wantErr)
			}
		})
	}
}

// TestVerifyDiffID checks the reader that sandbox callers verify with after
// another process consumed part of the stream.
func TestVerifyDiffID(t *testing.T) {
	data := []byte("a layer and what follows its end")
	for _, tt := range []struct {
		name    string
		want    v1.Hash
		wantErr error
	}{
		{name: "match", want: sha256Of(data)},
		{name: "mismatch", want: sha256Of(data[:5]), wantErr: ErrDiffIDMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vr, err := VerifyDiffID(bytes.NewReader(data), tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := vr.Read(make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			if err := vr.Verify(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Verify() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestUnpackCancel cancels the context while a large file is being copied
// and checks that Unpack stops there instead of reading the rest.
func TestUnpackCancel(t *testing.T) {
	const size = 64 << 20
	layer := makeTar(t, fileE("big", strings.Repeat("x", size)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(layer), n: 1 << 20, cancel: cancel}
	err := Unpack(r, t.TempDir(), WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Unpack() = %v, want %v", err, context.Canceled)
	}
	if r.read > 2<<20 {
		t.Errorf("Unpack() read %d bytes after the cancel at 1 MiB, want at most one more chunk", r.read)
	}
}

// cancelAfter calls cancel once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	read   int64
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read >= c.n {
		c.cancel()
	}
	return n, err
}
