package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/lifecycle"
)

// These tests run the phases on the host (Options.NoSandbox), which needs
// neither root nor a stack: the buildpacks are POSIX shell scripts.

// buildpack is a Heroku classic buildpack written by a test: each field is
// the body of a /bin/sh script in bin/, left out when empty.
type buildpack struct{ detect, compile, release string }

// write writes the buildpack into a new directory named name.
func (b buildpack) write(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for script, body := range map[string]string{"detect": b.detect, "compile": b.compile, "release": b.release} {
		if body == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", script), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// app writes an app of top-level files from name, content pairs and
// returns its directory.
func app(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tracer is a file the buildpacks of a test append lines to, to show
// which scripts ran in which order.
type tracer string

func newTracer(t *testing.T) tracer { return tracer(filepath.Join(t.TempDir(), "trace")) }

// line returns the shell command that appends s to the trace.
func (tr tracer) line(s string) string { return "echo " + s + " >> '" + string(tr) + "'" }

// reset empties the trace.
func (tr tracer) reset(t *testing.T) {
	t.Helper()
	if err := os.Remove(string(tr)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// lines returns what the buildpacks traced.
func (tr tracer) lines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(string(tr))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// build runs lifecycle.Build on the host with the buildpacks named by
// flags (or detected among defaults when flags is nil), returning the
// console output as well.
func build(t *testing.T, appDir string, set func(*lifecycle.Options)) (*lifecycle.Result, string, error) {
	t.Helper()
	work := t.TempDir()
	var log bytes.Buffer
	o := lifecycle.Options{
		AppDir:         appDir,
		Stack:          lifecycle.Stack{Name: "test"},
		CacheDir:       filepath.Join(work, "cache"),
		BuildpackCache: filepath.Join(work, "buildpacks"),
		WorkDir:        work,
		NoSandbox:      true,
		Console:        console.New(&log, false),
	}
	set(&o)
	res, err := lifecycle.Build(context.Background(), o)
	return res, log.String(), err
}

func names(res *lifecycle.Result) (used, detected []string) {
	for _, bp := range res.Buildpacks {
		used, detected = append(used, bp.Name), append(detected, bp.Detected)
	}
	return used, detected
}

// Default buildpacks are detected in order and the first that passes
// builds the app alone, named by the first line bin/detect prints;
// buildpacks named explicitly all build the app, in order.
func TestDetectOrder(t *testing.T) {
	tr := newTracer(t)
	never := buildpack{detect: tr.line("never") + "; exit 1", compile: tr.line("never-compile")}.write(t, "never")
	first := buildpack{
		detect:  tr.line("first") + "\n[ -f \"$1/app.txt\" ] || exit 1\nprintf 'First Framework\\nmore\\n'",
		compile: tr.line("first-compile"),
	}.write(t, "first")
	second := buildpack{detect: tr.line("second") + "; echo Second", compile: tr.line("second-compile")}.write(t, "second")
	src := app(t, "app.txt", "hello")

	t.Run("defaults", func(t *testing.T) {
		tr.reset(t)
		res, _, err := build(t, src, func(o *lifecycle.Options) { o.DefaultBuildpacks = []string{never, first, second} })
		if err != nil {
			t.Fatal(err)
		}
		if used, detected := names(res); !slices.Equal(used, []string{"first"}) || !slices.Equal(detected, []string{"First Framework"}) {
			t.Errorf("used %v detected as %q, want only first, detected as First Framework", used, detected)
		}
		if got, want := tr.lines(t), []string{"never", "first", "first-compile"}; !slices.Equal(got, want) {
			t.Errorf("scripts ran %v, want %v", got, want)
		}
	})
	t.Run("flags", func(t *testing.T) {
		tr.reset(t)
		res, _, err := build(t, src, func(o *lifecycle.Options) { o.Buildpacks = []string{second, first} })
		if err != nil {
			t.Fatal(err)
		}
		if used, detected := names(res); !slices.Equal(used, []string{"second", "first"}) || !slices.Equal(detected, []string{"Second", "First Framework"}) {
			t.Errorf("used %v detected as %q, want second then first", used, detected)
		}
		if got, want := tr.lines(t), []string{"second", "first", "second-compile", "first-compile"}; !slices.Equal(got, want) {
			t.Errorf("scripts ran %v, want %v", got, want)
		}
	})
}

// When no default buildpack detects the app, or one named explicitly
// rejects it, the build fails with ErrDetect before anything compiles.
func TestDetectFailure(t *testing.T) {
	tr := newTracer(t)
	never := buildpack{detect: "exit 1", compile: tr.line("compiled")}.write(t, "never")
	other := buildpack{detect: "exit 1", compile: tr.line("compiled")}.write(t, "other")
	yes := buildpack{detect: "echo Yes", compile: tr.line("compiled")}.write(t, "yes")
	tests := []struct {
		name string
		set  func(*lifecycle.Options)
		want string
	}{
		{"no default detects", func(o *lifecycle.Options) { o.DefaultBuildpacks = []string{never, other} },
			"no buildpack detected the app; tried: " + never + ", " + other},
		{"named buildpack rejects", func(o *lifecycle.Options) { o.Buildpacks = []string{yes, never} },
			"app not compatible with buildpack " + never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := build(t, app(t, "app.txt", "x"), tt.set)
			if !errors.Is(err, lifecycle.ErrDetect) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build() = %v, want ErrDetect saying %q", err, tt.want)
			}
			if got := tr.lines(t); got != nil {
				t.Errorf("scripts ran %v, want no compile", got)
			}
		})
	}
}

// bin/compile gets BUILD_DIR, CACHE_DIR and ENV_DIR; the config vars are
// in ENV_DIR only; the cache persists between builds; what a buildpack
// writes to its export file reaches the next buildpack's environment; the
// app's source stays as it was.
func TestCompile(t *testing.T) {
	tool := buildpack{
		detect: "echo Tool",
		compile: `set -e
build=$1 cache=$2 env=$3
echo "-----> Installing tool"
mkdir -p "$build/.tool/bin"
printf '#!/bin/sh\necho tool ran\n' > "$build/.tool/bin/tool"
chmod +x "$build/.tool/bin/tool"
{ echo "greeting=$(cat "$env/GREETING")"; echo "environment=${GREETING:-unset}"; } > "$build/compiled.txt"
builds=$(cat "$cache/builds" 2>/dev/null || echo 0)
echo $((builds + 1)) > "$cache/builds"
bp_dir=$(cd "$(dirname "$0")/.." && pwd)
cat > "$bp_dir/export" <<EOF
export PATH="$build/.tool/bin:\$PATH"
export TOOL_HOME="$build/.tool"
EOF`,
	}.write(t, "tool")
	user := buildpack{
		detect:  "echo User",
		compile: `set -e; { echo "TOOL_HOME=$TOOL_HOME"; tool; } > "$1/used.txt"`,
	}.write(t, "user")
	src := app(t, "app.txt", "x", ".env", "GREETING=from-dotenv")
	cache := filepath.Join(t.TempDir(), "cache")
	for n, want := range []string{"1\n", "2\n"} {
		res, log, err := build(t, src, func(o *lifecycle.Options) {
			o.Buildpacks = []string{tool, user}
			o.Env = map[string]string{"GREETING": "hi"}
			o.CacheDir = cache
		})
		if err != nil {
			t.Fatalf("build %d: %v\n%s", n+1, err, log)
		}
		if got := readFile(t, filepath.Join(res.AppDir, "compiled.txt")); got != "greeting=hi\nenvironment=unset\n" {
			t.Errorf("compile saw %q, want the config var in ENV_DIR only", got)
		}
		if got, want := readFile(t, filepath.Join(res.AppDir, "used.txt")), "TOOL_HOME="+filepath.Join(res.AppDir, ".tool")+"\ntool ran\n"; got != want {
			t.Errorf("the second buildpack saw %q, want %q", got, want)
		}
		if got := readFile(t, filepath.Join(cache, "builds")); got != want {
			t.Errorf("after build %d the cache counts %q builds", n+1, got)
		}
		if _, err := os.Stat(filepath.Join(res.AppDir, ".env")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf(".env reached the working copy: %v", err)
		}
		if !strings.Contains(log, "-----> Installing tool") {
			t.Errorf("console %q lacks bin/compile's output", log)
		}
	}
	if entries, _ := os.ReadDir(src); len(entries) != 2 {
		t.Errorf("the app's source has %d entries, want its 2 files only", len(entries))
	}
}

// A failing bin/compile fails the build with ErrCompile, its exit status
// and its last lines of output, stdout and stderr in the order written;
// later buildpacks do not run.
func TestCompileFailure(t *testing.T) {
	tr := newTracer(t)
	failing := buildpack{
		detect:  "echo Failing",
		compile: "i=1; while [ $i -le 20 ]; do echo \"output line $i\"; i=$((i + 1)); done\necho 'failed on purpose' >&2\nexit 3",
	}.write(t, "failing")
	after := buildpack{detect: "echo After", compile: tr.line("after-compile")}.write(t, "after")
	_, log, err := build(t, app(t, "app.txt", "x"), func(o *lifecycle.Options) { o.Buildpacks = []string{failing, after} })
	if !errors.Is(err, lifecycle.ErrCompile) {
		t.Fatalf("Build() = %v, want ErrCompile", err)
	}
	msg := err.Error()
	for _, want := range []string{"buildpack " + failing + ": bin/compile exited with status 3", "output line 20", "failed on purpose"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	// Output and errors keep the order the script wrote them in.
	if !strings.HasSuffix(msg, "output line 20\n"+console.Indent+"failed on purpose") {
		t.Errorf("error %q does not end with the script's last two lines in order", msg)
	}
	if strings.Contains(msg, "output line 1\n") {
		t.Errorf("error %q repeats all the output, want only its last lines", msg)
	}
	if !strings.Contains(log, "output line 1\n") {
		t.Errorf("console %q lacks the live output", log)
	}
	if got := tr.lines(t); got != nil {
		t.Errorf("scripts ran %v after the failure", got)
	}
}

// Process types and config vars merge across buildpacks' bin/release in
// order, later ones winning per key; the Procfile wins over all of them;
// a buildpack without bin/release adds nothing.
func TestReleaseMerge(t *testing.T) {
	first := buildpack{detect: "echo First", compile: "exit 0", release: `cat <<'YAML'
---
addons:
  - heroku-postgresql
default_process_types:
  web: first-web --port $PORT
  worker: first-worker
config_vars:
  ONLY_FIRST: "1"
  SHARED: first
YAML`}.write(t, "first")
	silent := buildpack{detect: "echo Silent", compile: "exit 0"}.write(t, "silent")
	last := buildpack{detect: "echo Last", compile: "exit 0", release: `printf 'default_process_types:\n  web: last-web\n  clock: last-clock\nconfig_vars:\n  SHARED: last\n'`}.write(t, "last")
	vars := map[string]string{"ONLY_FIRST": "1", "SHARED": "last"}
	tests := []struct {
		name  string
		files []string
		want  map[string]string
	}{
		{"buildpacks only", nil,
			map[string]string{"web": "last-web", "worker": "first-worker", "clock": "last-clock"}},
		{"Procfile wins", []string{"Procfile", "web: procfile-web\nrelease: ./migrate\n"},
			map[string]string{"web": "procfile-web", "worker": "first-worker", "clock": "last-clock", "release": "./migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := build(t, app(t, append([]string{"app.txt", "x"}, tt.files...)...), func(o *lifecycle.Options) {
				o.Buildpacks = []string{first, silent, last}
			})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(res.Processes, tt.want) {
				t.Errorf("processes %v, want %v", res.Processes, tt.want)
			}
			if !maps.Equal(res.ConfigVars, vars) {
				t.Errorf("config vars %v, want %v", res.ConfigVars, vars)
			}
			if used, _ := names(res); !slices.Equal(used, []string{"first", "silent", "last"}) {
				t.Errorf("buildpacks recorded %v, want all three in order", used)
			}
		})
	}
}

// A bin/release that fails or prints what is not a release fails the
// build with ErrRelease, naming the buildpack.
func TestReleaseFailure(t *testing.T) {
	tests := []struct {
		name, release, want string
	}{
		{"invalid YAML", `printf 'default_process_types:\n  web: [unclosed\n'`, "bin/release printed invalid YAML"},
		{"bad process type", `printf 'default_process_types:\n  "web server": x\n'`, `process type "web server"`},
		{"exits non-zero", "echo 'release broke' >&2; exit 1", "release broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := buildpack{detect: "echo Bad", compile: "exit 0", release: tt.release}.write(t, "bad")
			_, _, err := build(t, app(t, "app.txt", "x"), func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
			if !errors.Is(err, lifecycle.ErrRelease) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), bp) {
				t.Errorf("Build() = %v, want ErrRelease naming %s and saying %q", err, bp, tt.want)
			}
		})
	}
}

// A malformed Procfile fails the build with ErrProcfile: before compiling
// when the app has it, after when a buildpack wrote it.
func TestProcfileMalformed(t *testing.T) {
	tr := newTracer(t)
	t.Run("in the app", func(t *testing.T) {
		bp := buildpack{detect: "echo Any", compile: tr.line("compiled")}.write(t, "any")
		_, _, err := build(t, app(t, "Procfile", "web perl server.pl\n"), func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
		if !errors.Is(err, lifecycle.ErrProcfile) || !strings.Contains(err.Error(), "no colon") {
			t.Errorf("Build() = %v, want ErrProcfile", err)
		}
		if got := tr.lines(t); got != nil {
			t.Errorf("scripts ran %v, want none: the Procfile is checked first", got)
		}
	})
	t.Run("written by a buildpack", func(t *testing.T) {
		bp := buildpack{detect: "echo Any", compile: `printf 'web: a\nweb: b\n' > "$1/Procfile"`}.write(t, "writer")
		_, _, err := build(t, app(t, "app.txt", "x"), func(o *lifecycle.Options) { o.Buildpacks = []string{bp} })
		if !errors.Is(err, lifecycle.ErrProcfile) || !strings.Contains(err.Error(), "declared twice") {
			t.Errorf("Build() = %v, want ErrProcfile", err)
		}
	})
}

// A buildpack that swaps its own directory for a link to a host directory
// gets nothing of that directory read: its layers file, export file and
// bin/release are looked for inside the build's buildpacks directory only.
func TestBuildpackDirSwappedForLink(t *testing.T) {
	host := t.TempDir()
	for name, body := range map[string]string{
		lifecycle.LayersFile: "host-secret-line\n",
		"export":             "export FROM_HOST=leaked\n",
		"bin/release":        "#!/bin/sh\necho 'config_vars: {FROM_HOST_RELEASE: leaked}'\n",
	} {
		path := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bp := buildpack{
		detect: "echo Swapper",
		compile: `bp=$(cd "$(dirname "$0")/.." && pwd)
cd "$(dirname "$bp")" && rm -rf "$bp" && ln -s '` + host + `' "$bp"
echo "consumer: FROM_HOST=${FROM_HOST:-}"`,
	}.write(t, "swapper")
	res, out, err := build(t, app(t, "Procfile", "web: true\n"), func(o *lifecycle.Options) {
		o.Buildpacks = []string{bp}
	})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if strings.Contains(out, "host-secret-line") || len(res.DependencyDirs) != 0 {
		t.Errorf("the host's layers file was read (dirs %v):\n%s", res.DependencyDirs, out)
	}
	if _, ok := res.ConfigVars["FROM_HOST_RELEASE"]; ok {
		t.Errorf("the host's bin/release ran: config vars %v", res.ConfigVars)
	}
}
