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
// sends to the next buildpack.
func TestBuildKitHostileFiles(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	bps := t.TempDir()
	scripts := map[string]string{
		"maker/bin/compile": `#!/bin/sh
BP_DIR=$(cd "$(dirname "$0")/.." && pwd)
for dir in "$1" "$BP_DIR"; do
	mknod "$dir/disk" b 8 0 && chmod 666 "$dir/disk" && echo "made $dir/disk"
	cp /bin/sh "$dir/sush" && chmod 6755 "$dir/sush" && echo "made $dir/sush"
done
`,
		"checker/bin/compile": `#!/bin/sh
for dir in "$1" /paas/buildpacks/*maker*; do
	if [ -e "$dir/disk" ]; then echo "FOUND $dir/disk"; fi
	if [ -u "$dir/sush" ] || [ -g "$dir/sush" ]; then echo "FOUND $dir/sush set-id"; fi
	if [ -f "$dir/sush" ]; then echo "kept $dir/sush"; fi
done
`,
	}
	for _, name := range []string{"maker", "checker"} {
		scripts[name+"/bin/detect"] = "#!/bin/sh\necho " + name + "\n"
		scripts[name+"/bin/release"] = "#!/bin/sh\necho '--- {}'\n"
	}
	for name, body := range scripts {
		writeFile(t, filepath.Join(bps, name), body, 0o755)
	}
	app := t.TempDir()
	writeFile(t, filepath.Join(app, ".buildpacks"), filepath.Join(bps, "maker")+"\n"+filepath.Join(bps, "checker")+"\n", 0o644)
	writeFile(t, filepath.Join(app, "Procfile"), "web: sleep 1\n", 0o644)

	_, out := build(t, h, kit, "test", "hostile", app, nil)
	if !strings.Contains(out, "made /app/disk") || !strings.Contains(out, "made /app/sush") {
		t.Fatalf("the buildpack could not make its files, so this tests nothing:\n%s", out)
	}
	if strings.Contains(out, "FOUND") || !strings.Contains(out, "kept /app/sush") {
		t.Errorf("a device node or a set-id bit came back from BuildKit:\n%s", out)
	}
}
