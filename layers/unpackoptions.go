package layers

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Limits Unpack applies unless told otherwise. They are far above any real
// stack or buildpack (a full Ubuntu stack is about 3 GiB in 100,000 entries)
// and exist to bound what a hostile archive can cost in disk, inodes and
// time; callers that know better pass WithMaxSize and WithMaxEntries.
const (
	DefaultMaxSize    int64 = 32 << 30
	DefaultMaxEntries int64 = 1 << 20
)

var (
	// ErrLimit is returned (wrapped, naming the limit) when an archive holds
	// more content or more entries than Unpack was allowed to write.
	ErrLimit = errors.New("archive exceeds an unpack limit")
	// ErrUnsafeEntry is returned (wrapped, naming the entry) for an entry no
	// honest archive holds, such as a whiteout of "." or "..".
	ErrUnsafeEntry = errors.New("unsafe archive entry")
)

// UnpackOption configures Unpack.
type UnpackOption func(*unpackOptions) error

type unpackOptions struct {
	ctx        context.Context
	owners     *owners // nil: never chown
	maxSize    int64   // bytes of file content, holes included
	maxEntries int64
	diffID     *v1.Hash // nil: not checked
	tree       bool     // AsTree
}

func makeUnpackOptions(opts []UnpackOption) (*unpackOptions, error) {
	o := &unpackOptions{
		ctx:        context.Background(),
		maxSize:    DefaultMaxSize,
		maxEntries: DefaultMaxEntries,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithContext stops Unpack with ctx's error once ctx is done; it is checked
// before every entry and every chunk of a file, so a huge file is
// interrupted in the middle.
func WithContext(ctx context.Context) UnpackOption {
	return func(o *unpackOptions) error {
		if ctx == nil {
			return fmt.Errorf("nil context: %w", ErrInvalidOption)
		}
		o.ctx = ctx
		return nil
	}
}

// WithMaxSize caps the total size of the files Unpack writes at n bytes
// (default DefaultMaxSize). A sparse file counts with its holes, so that
// a small archive cannot make Unpack read terabytes of zeros.
func WithMaxSize(n int64) UnpackOption {
	return func(o *unpackOptions) error {
		if n <= 0 {
			return fmt.Errorf("max size %d: %w", n, ErrInvalidOption)
		}
		o.maxSize = n
		return nil
	}
}

// WithMaxEntries caps the number of entries Unpack applies at n (default
// DefaultMaxEntries).
func WithMaxEntries(n int64) UnpackOption {
	return func(o *unpackOptions) error {
		if n <= 0 {
			return fmt.Errorf("max entries %d: %w", n, ErrInvalidOption)
		}
		o.maxEntries = n
		return nil
	}
}

// WithDiffID makes Unpack hash the whole uncompressed stream, bytes after
// the tar's end included, and fail with ErrDiffIDMismatch unless it hashes
// to want. The tree is written by then: a caller must discard it on error,
// never cache or rename it into place.
func WithDiffID(want v1.Hash) UnpackOption {
	return func(o *unpackOptions) error {
		if err := checkDiffID(want); err != nil {
			return err
		}
		o.diffID = &want
		return nil
	}
}

// AsTree unpacks a stream that is a whole directory tree rather than an
// image layer, as a build's /app coming back from BuildKit is: a name
// beginning with .wh. is an ordinary file, as it was in the tree;
// directories get exactly their modes, owner bits included; and nothing is
// remembered per entry, so memory does not grow with the tree. Paths stay
// confined, set-ID bits are dropped and device nodes skipped as always.
func AsTree() UnpackOption {
	return func(o *unpackOptions) error {
		o.tree = true
		return nil
	}
}
