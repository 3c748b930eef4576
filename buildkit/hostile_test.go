package buildkit_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// A buildpack on BuildKit runs as root in the worker's container, where
// it can make device nodes and set-user-ID files in /app and its own
// directory. Neither reaches the host copy that paas reads, exports and
// sends to the next buildpack. (cmd/paas's TestBuildOnBuildKitRootless
// tries the same as an ordinary user.)
func TestBuildKitHostileFiles(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	app := t.TempDir()
	writeFile(t, filepath.Join(app, ".buildpacks"), testenv.Fixture("buildpacks", "devices")+"\n"+testenv.Fixture("buildpacks", "devices-check")+"\n", 0o644)
	writeFile(t, filepath.Join(app, "Procfile"), "web: sleep 1\n", 0o644)

	_, out := build(t, h, kit, "test", "hostile", app, nil)
	if !strings.Contains(out, "made /app/disk") || !strings.Contains(out, "made /app/sush") {
		t.Fatalf("the buildpack could not make its files, so this tests nothing:\n%s", out)
	}
	if strings.Contains(out, "FOUND") || !strings.Contains(out, "kept /app/sush") {
		t.Errorf("a device node or a set-id bit came back from BuildKit:\n%s", out)
	}
}
