package stacks

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/paas-dev/paas/layers"
)

// unpacker applies a stack's layers in order to one directory. The
// extraction itself, and its policy (SPEC.md, "Extracting archives"), is
// layers.Unpack's; stacks keep device nodes, which the sandbox binds into
// /dev when they are unpacked as root.
type unpacker struct{ dir string }

func newUnpacker(dir string) (*unpacker, error) { return &unpacker{dir: dir}, nil }

func (u *unpacker) close() error { return nil }

// layer unpacks one uncompressed layer tar stream.
func (u *unpacker) layer(ctx context.Context, r io.Reader, opts ...layers.UnpackOption) error {
	base := []layers.UnpackOption{layers.WithContext(ctx), layers.WithDevices()}
	return layers.Unpack(r, u.dir, append(base, opts...)...)
}

// finish gives the root the mode every rootfs has, whatever the tar said:
// all users of the sandbox must be able to enter /, and only its owner may
// change it. Its mtime is the stacks' reproducible epoch.
func (u *unpacker) finish() error {
	if err := os.Chmod(u.dir, 0o755); err != nil {
		return err
	}
	t := time.Unix(sourceDateEpoch(), 0)
	return os.Chtimes(u.dir, t, t)
}
