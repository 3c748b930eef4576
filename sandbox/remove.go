package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// RemoveAll removes path and everything below it, like os.RemoveAll, also
// where sandboxed commands left what an ordinary user cannot remove from
// outside: files owned by subordinate ids, or the work directory overlayfs
// leaves with mode 000 next to Upper (Upper+".work"). For such users it
// removes from inside a user namespace with the sandbox's id mapping, where
// the caller has root's powers over every mapped id.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
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
		return report{Error: err.Error()}
	}
	return report{}
}
