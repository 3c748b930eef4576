package lifecycle_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/lifecycle"
)

// Hostile CNB buildpacks against the host side of the build: what paas
// reads and writes of /layers and the plans, on the host, as root when the
// tests run as root.

// A later buildpack swaps an earlier one's launch layer for a link to a
// host directory: the export refuses it, and nothing of the host directory
// reaches the image.
func TestCNBHostileLayerSwap(t *testing.T) {
	secret := t.TempDir()
	if err := os.WriteFile(filepath.Join(secret, "id_rsa"), []byte("HOST-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := writeCNB(t, "evil/first", "true",
		`mkdir -p "$CNB_LAYERS_DIR/x"; printf '[types]\nlaunch = true\n' > "$CNB_LAYERS_DIR/x.toml"`)
	second := writeCNB(t, "evil/second", "true",
		`rm -rf "$CNB_LAYERS_DIR/../evil_first/x"; ln -s '`+secret+`' "$CNB_LAYERS_DIR/../evil_first/x"`)
	res, log, err := cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, first, second)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer res.Close()
	_, _, err = lifecycle.Export(res, lifecycle.ExportOptions{Base: baseImage(t), Epoch: epoch, TempDir: t.TempDir()})
	if !errors.Is(err, lifecycle.ErrExport) || !strings.Contains(err.Error(), "a buildpack replaced it") {
		t.Errorf("Export() = %v, want %v naming the replaced layer", err, lifecycle.ErrExport)
	}
}

// A FIFO where paas reads a TOML file (launch.toml, LAYER.toml, the plan)
// would block the host for ever in open(2): the build goes on or fails.
func TestCNBHostileFIFO(t *testing.T) {
	for name, bp := range map[string][2]string{
		"launch.toml": {"true", `mkfifo "$CNB_LAYERS_DIR/launch.toml"`},
		"LAYER.toml":  {"true", `mkfifo "$CNB_LAYERS_DIR/x.toml"`},
		"plan.toml":   {`rm -f "$CNB_BUILD_PLAN_PATH"; mkfifo "$CNB_BUILD_PLAN_PATH"`, "true"},
	} {
		t.Run(name, func(t *testing.T) {
			evil := writeCNB(t, "evil/fifo", bp[0], bp[1])
			done := make(chan error, 1)
			go func() {
				res, _, err := cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, evil)
				if res != nil {
					res.Close()
				}
				done <- err
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the build still waits on a FIFO after a minute")
			}
		})
	}
}

// A meta-buildpack image whose [[order.group]] names a version with "../"
// cannot reach a buildpack outside the image: it is refused, and nothing
// of the outside buildpack is read.
func TestCNBHostileComponentPath(t *testing.T) {
	victim := writeCNB(t, "private/bp", "exit 100", "true")
	if err := os.WriteFile(filepath.Join(victim, "secret"), []byte("PRIVATE-BUILDPACK-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stolen")
	thief := writeCNB(t, "evil/thief", `cat "$CNB_BUILDPACK_DIR"/../*/secret > '`+out+`' 2>/dev/null || true`, "true")
	meta := t.TempDir()
	order := "api = \"0.10\"\n[buildpack]\nid = \"evil/meta\"\nversion = \"1\"\n[[order]]\n[[order.group]]\nid = \"x\"\nversion = \"" +
		strings.Repeat("../", 30) + strings.TrimPrefix(victim, "/") + "\"\noptional = true\n[[order.group]]\nid = \"evil/thief\"\nversion = \"1\"\n"
	if err := os.WriteFile(filepath.Join(meta, "buildpack.toml"), []byte(order), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := buildpackImage(t, map[string]string{"evil/meta@1": meta, "evil/thief@1": thief})
	_, _, err := cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, ref)
	if !errors.Is(err, lifecycle.ErrBuildpack) {
		t.Errorf("Build() = %v, want %v", err, lifecycle.ErrBuildpack)
	}
	if data, _ := os.ReadFile(out); strings.Contains(string(data), "PRIVATE") {
		t.Errorf("the outside buildpack was read: %q", data)
	}
}

// bin/detect replaces its scratch directory with a link to a host
// directory: its plan is not read from there.
func TestCNBHostileScratchLink(t *testing.T) {
	host := t.TempDir()
	plan := "[[provides]]\nname = \"HOSTPLAN\"\n[[requires]]\nname = \"HOSTPLAN\"\n[requires.metadata]\nsecret = \"HOST-PLAN-SECRET\"\n"
	if err := os.WriteFile(filepath.Join(host, "plan.toml"), []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "seen")
	evil := writeCNB(t, "evil/scratch", `d=$(dirname "$CNB_BUILD_PLAN_PATH"); cd /; rm -rf "$d"; ln -s '`+host+`' "$d"`,
		`cat "$CNB_BP_PLAN_PATH" > '`+out+`'`)
	_, _, _ = cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, evil)
	if data, _ := os.ReadFile(out); strings.Contains(string(data), "HOST-PLAN-SECRET") {
		t.Errorf("the host's plan.toml reached bin/build: %q", data)
	}
}

// SBOM files are held in memory until export: their sizes add up to a
// bound, past which they are left out with a warning.
func TestCNBHostileSBOMTotal(t *testing.T) {
	evil := writeCNB(t, "evil/sbom", "true", `cd "$CNB_LAYERS_DIR"; for i in 1 2 3 4 5 6; do mkdir L$i; printf '[types]\nlaunch = true\n' > L$i.toml; truncate -s 16777216 L$i.sbom.cdx.json; done`)
	res, log, err := cnbBuild(t, app(t, "x", ""), filepath.Join(t.TempDir(), "layers"), nil, evil)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer res.Close()
	total := 0
	for _, s := range res.SBOM {
		total += len(s.Body)
	}
	if total > 64<<20 || !strings.Contains(log, "left out of the image") {
		t.Errorf("SBOMs of %d MiB held, want at most 64 MiB and a warning\n%s", total>>20, log)
	}
}
