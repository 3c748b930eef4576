package layers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// Compression names how a layer's tar stream is compressed.
type Compression string

// The compressions a layer can use; each has its own OCI media type.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// DefaultEpoch is the mtime every entry gets unless WithEpoch says otherwise:
// 1980-01-01T00:00:01Z, the time reproducible-build tools agree on because
// zip-based consumers cannot represent earlier dates.
var DefaultEpoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// SourceDateEpoch is the time of every entry and image paas makes:
// SOURCE_DATE_EPOCH when it is a valid, non-negative number of seconds,
// else DefaultEpoch, so the same inputs give the same digest. Stacks and
// app images read it this one way.
func SourceDateEpoch() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return time.Unix(n, 0).UTC()
		}
	}
	return DefaultEpoch
}

// ErrInvalidOption is returned (wrapped) when an Option's value is unusable.
var ErrInvalidOption = errors.New("invalid layer option")

// Option configures FromDir and FromFiles.
type Option func(*options) error

type options struct {
	prefix      string
	uid, gid    int
	epoch       time.Time
	exclude     func(rel string, isDir bool) bool
	compression Compression
	tempDir     string
	warn        func(msg string)
	reuse       Reuse
	// overlay reads the tree as an overlay filesystem's upper directory.
	overlay bool
	// compressor replaces the compressor that compression selects; only
	// tests and benchmarks set it.
	compressor func(w io.Writer) (io.WriteCloser, error)
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{
		epoch:       DefaultEpoch,
		compression: Gzip,
		// uid and gid stay 0: layers are owned by root unless told otherwise.
		exclude: func(string, bool) bool { return false },
		warn:    func(string) {},
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.tempDir == "" {
		o.tempDir = os.TempDir()
	}
	return o, nil
}

// WithPrefix places the tree at p inside the tar: "app" gives entries "app/"
// and "app/x". The parent directories of p are emitted too ("a/b" gives "a/"
// and "a/b/"), so unpackers create them with known modes.
func WithPrefix(p string) Option {
	return func(o *options) error {
		clean := path.Clean("/" + strings.TrimSuffix(p, "/"))
		if clean != "/"+strings.Trim(p, "/") {
			return fmt.Errorf("prefix %q is not a clean path: %w", p, ErrInvalidOption)
		}
		o.prefix = strings.TrimPrefix(clean, "/")
		return nil
	}
}

// WithOwner gives every entry the numeric owner uid:gid (default 0:0). User
// and group names are always left blank so the host's passwd never leaks in.
func WithOwner(uid, gid int) Option {
	return func(o *options) error {
		if uid < 0 || gid < 0 {
			return fmt.Errorf("owner %d:%d: %w", uid, gid, ErrInvalidOption)
		}
		o.uid, o.gid = uid, gid
		return nil
	}
}

// WithEpoch sets every entry's mtime to t, truncated to whole seconds so the
// tar needs no PAX time records; callers pass SOURCE_DATE_EPOCH here.
func WithEpoch(t time.Time) Option {
	return func(o *options) error {
		if t.IsZero() {
			return fmt.Errorf("zero epoch: %w", ErrInvalidOption)
		}
		o.epoch = t.UTC().Truncate(time.Second)
		return nil
	}
}

// WithExclude leaves out every entry for which fn returns true. rel is the
// slash-separated path relative to the source directory (without prefix);
// an excluded directory is not descended into.
func WithExclude(fn func(rel string, isDir bool) bool) Option {
	return func(o *options) error {
		if fn == nil {
			return fmt.Errorf("nil exclude func: %w", ErrInvalidOption)
		}
		o.exclude = fn
		return nil
	}
}

// WithOverlayUpper reads the tree as the upper directory of an overlay
// mount, the changes made over a lower tree, and writes them as an OCI
// layer to stack on that tree: a whiteout (a character device 0:0) becomes
// a ".wh.NAME" entry that deletes NAME, and a directory marked opaque (the
// xattr trusted.overlay.opaque, or user.overlay.opaque in a user
// namespace, set to "y") is followed by a ".wh..wh..opq" entry that hides
// what the lower tree had in it.
func WithOverlayUpper() Option {
	return func(o *options) error {
		o.overlay = true
		return nil
	}
}

// WithCompression selects the layer's compression (default Gzip).
func WithCompression(c Compression) Option {
	return func(o *options) error {
		if _, err := mediaType(c); err != nil {
			return err
		}
		o.compression = c
		return nil
	}
}

// WithTempDir sets where the compressed blob is spooled (default
// os.TempDir()). The blob stays there after the call: the caller owns its
// removal, typically by removing the whole directory when done.
func WithTempDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return fmt.Errorf("empty temp dir: %w", ErrInvalidOption)
		}
		o.tempDir = dir
		return nil
	}
}

// WithWarn receives a message for every entry that cannot go into a layer
// and is skipped (sockets, devices, fifos), e.g. "skipping socket app/run.sock".
func WithWarn(fn func(msg string)) Option {
	return func(o *options) error {
		if fn == nil {
			return fmt.Errorf("nil warn func: %w", ErrInvalidOption)
		}
		o.warn = fn
		return nil
	}
}
