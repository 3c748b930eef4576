package buildkit_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/buildkit"
	"github.com/paas-dev/paas/console"
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

// A command on BuildKit can swap the files paas captures its stdout and
// status in for a link to a host path, or a FIFO: paas reads neither, the
// host file goes nowhere, and nothing hangs.
func TestBuildKitCapturedOutputLinks(t *testing.T) {
	testenv.Require(t, testenv.Root|testenv.Stack|testenv.Daemon)
	kit := testenv.BuildKit(t)
	h := kitHome(t, "test")
	secret := filepath.Join(t.TempDir(), "host-secret")
	canary := "host-only-" + randomHex(t)
	writeFile(t, secret, canary+"\n", 0o644)
	for name, swap := range map[string]string{
		"link":        `rm -f /paas/.stdout/out; ln -s ` + secret + ` /paas/.stdout/out`,
		"fifo":        `rm -f /paas/.stdout/out; mkfifo /paas/.stdout/out`,
		"status fifo": `rm -f /paas/.stdout/status; mkfifo /paas/.stdout/status`,
	} {
		t.Run(name, func(t *testing.T) {
			bp := filepath.Join(t.TempDir(), "swapper")
			writeFile(t, filepath.Join(bp, "bin/detect"), "#!/bin/sh\n"+swap+"\necho Swapper\n", 0o755)
			writeFile(t, filepath.Join(bp, "bin/compile"), "#!/bin/sh\n", 0o755)
			app := t.TempDir()
			writeFile(t, filepath.Join(app, ".buildpacks"), bp+"\n", 0o644)
			var out strings.Builder
			o := builder.Options{AppDir: app, Tag: "swapper", Stack: "test", BuildKit: buildkit.Options{Address: kit.Address},
				Console: console.New(&out, false)}
			_, err := builder.Build(context.Background(), h, o)
			if err == nil {
				t.Errorf("the build passed:\n%s", out.String())
			}
			if strings.Contains(out.String(), canary) || (err != nil && strings.Contains(err.Error(), canary)) {
				t.Errorf("the host file reached the build's output: %v\n%s", err, out.String())
			}
			if err != nil && !strings.Contains(err.Error(), "from BuildKit") {
				t.Errorf("error = %v, want it to say what could not be read from BuildKit", err)
			}
		})
	}
}
