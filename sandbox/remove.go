package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paas-dev/paas/fsutil"
)

// RemoveAll removes path and everything below it, like os.RemoveAll, also
// where what is left cannot be removed from outside as it is: directories
// without write permission (see fsutil.RemoveAll), files that sandboxed
// commands or Unpack gave to subordinate ids, or the work directory
// overlayfs leaves with mode 000 next to Upper (Upper+".work"). Where the
// caller's own powers do not suffice it removes from inside a user
// namespace with the sandbox's id mapping, where the caller has root's
// powers over every mapped id. A missing path is not an error.
func RemoveAll(path string) error {
	err := fsutil.RemoveAll(path)
	if err == nil || os.Getuid() == 0 || checkReexec() != nil {
		return err
	}
	abs, absErr := filepath.Abs(path)
	if absErr != nil {
		return fmt.Errorf("resolving %s: %w", path, absErr)
	}
	return runTask(context.Background(), detectIDMap(), initConfig{Remove: abs}, nil)
}

func removeReport(path string) report {
	if err := os.RemoveAll(path); err != nil {
		return errorReport(err)
	}
	return report{}
}
