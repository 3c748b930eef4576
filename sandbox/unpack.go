package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/paas-dev/paas/layers"
)

// Unpack applies the uncompressed layer tar r to dir (see layers.Unpack) as
// sandboxes will see it: from inside a user namespace with the id mapping
// New uses now, where entries get the tar's owners, so that on the host
// they belong to the ids that mapping gives those owners. Owners it lacks
// stay root inside (the caller), without their setuid or setgid bits.
// Directories get exactly the tar's modes: remove the tree with RemoveAll.
func Unpack(ctx context.Context, r io.Reader, dir string) error {
	return unpackWithIDs(ctx, detectIDMap(), r, dir)
}

// unpackWithIDs is Unpack with a given id mapping, for tests.
func unpackWithIDs(ctx context.Context, ids idMap, r io.Reader, dir string) error {
	if err := checkReexec(); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	// Root inside fills dir, so it must own it.
	if err := ids.mkdirOwned(abs); err != nil {
		return fmt.Errorf("unpacking into %s: %w", abs, err)
	}
	ic := initConfig{Unpack: abs, Owners: [2]int{ids.size(0), ids.size(1)}}
	return runTask(ctx, ids, ic, r)
}

// runTask runs an init for a task that needs no sandbox around it, only
// the powers root inside the user namespace has over every mapped id:
// Remove, or Unpack with its tar on stdin.
func runTask(ctx context.Context, ids idMap, ic initConfig, stdin io.Reader) error {
	ic.MapLater = ids.external()
	var stdio *Cmd
	if stdin != nil {
		stdio = &Cmd{Stdin: stdin}
	}
	_, err := runInit(ctx, ids, ic, stdio)
	return err
}

// unpackReport applies the layer on the init's stdin to dir.
func unpackReport(dir string, owners [2]int) report {
	if err := layers.Unpack(os.Stdin, dir, layers.WithOwners(owners[0], owners[1])); err != nil {
		return errorReport(err)
	}
	return report{}
}
