package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// sourceExportFile runs sourceExportScript on file with env, as a build does
// inside the sandbox, and returns what the file exported.
func sourceExportFile(t *testing.T, env environ, file string) map[string]string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", sourceExportScript, "export", file)
	cmd.Env = env.list()
	cmd.Dir = t.TempDir()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing %s: %v", file, err)
	}
	return exported(env, parseEnvZ(out))
}

// An export file written by bash's `export -p` holds `declare -x` lines,
// the whole environment of the buildpack's shell included; sourcing it
// exports only what the buildpack set or changed, not what bash itself
// keeps (SHLVL, PWD, OLDPWD).
func TestSourceExportDeclareX(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	env := environ{"PATH": "/usr/bin:/bin", "HOME": "/app", "STACK": "test"}
	file := filepath.Join(t.TempDir(), "export")
	write := exec.Command("bash", "-c", `set -euo pipefail; cd /; cd /tmp
arr=(one two); export GREETING="${arr[*]}: \"quoted\" \$x \\ back"
export PATH="/app/.tool/bin:$PATH"; export EMPTY=; export -p > "$1"`, "bash", file)
	write.Env = env.list()
	if out, err := write.CombinedOutput(); err != nil {
		t.Fatalf("writing the export file: %v\n%s", err, out)
	}
	got := sourceExportFile(t, env, file)
	want := map[string]string{
		"GREETING": `one two: "quoted" $x \ back`,
		"PATH":     "/app/.tool/bin:/usr/bin:/bin",
		"EMPTY":    "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported = %q, want %q", got, want)
	}
}

// Without bash on PATH, /bin/sh sources the file, and POSIX export lines
// still work.
func TestSourceExportWithoutBash(t *testing.T) {
	bin := t.TempDir()
	envPath, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(envPath, filepath.Join(bin, "env")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "export")
	if err := os.WriteFile(file, []byte("export A=1\nexport PATH=\"/opt/x:$PATH\"\n[ -z \"$BASH_VERSION\" ] && export SHELL_WAS=sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := sourceExportFile(t, environ{"PATH": bin}, file)
	want := map[string]string{"A": "1", "PATH": "/opt/x:" + bin, "SHELL_WAS": "sh"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported = %q, want %q", got, want)
	}
}
