package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/sandbox"
)

// compile runs each chosen buildpack's bin/compile, then sources its export
// file so later buildpacks see what it set.
func (b *build) compile(ctx context.Context) error {
	if err := b.checkProcfile(); err != nil {
		return err
	}
	for _, bp := range b.selected {
		b.con.Step("Compiling with %s", bp.Name)
		start := time.Now()
		if bp.CNB != nil {
			if err := b.runCNBBuild(ctx, bp); err != nil {
				return err
			}
			b.con.Done("Built", time.Since(start))
			continue
		}
		if err := b.runCompile(ctx, bp); err != nil {
			return err
		}
		if err := b.sourceExport(ctx, bp); err != nil {
			return err
		}
		b.readLayersFile(bp)
		b.con.Done("Compiled", time.Since(start))
	}
	return nil
}

func (b *build) runCompile(ctx context.Context, bp *prepared) error {
	tail := console.NewTail(15)
	live := b.con.Writer()
	out := multiWriter(live, tail)
	err := b.script(ctx, bp, "compile", out, out, b.sb.Path(CacheDir), b.sb.Path(EnvDir))
	var exit *sandbox.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%w: buildpack %s: bin/compile %s; its last output:\n%s",
			ErrCompile, bp.Ref, describeExit(exit), indent(tail.Lines()))
	}
	if err != nil {
		return fmt.Errorf("%w: buildpack %s: running bin/compile: %w", ErrCompile, bp.Ref, err)
	}
	return nil
}

// sourceExportScript sources the export file named by $1 and prints the
// resulting environment. Heroku and herokuish source it with bash, and real
// buildpacks write it with bash's `export -p` (`declare -x NAME="value"`),
// which dash cannot read; so bash does it when the stack has one on PATH,
// else /bin/sh. Bash prints only the variables the file set or changed,
// so the caller's proxy settings and the like, which every phase gets,
// are not written out again (on BuildKit, a captured output is kept on
// the daemon's disk); what it compares with is read-only, and env and
// printf are not the file's functions. /bin/sh, which cannot read
// NUL-separated values, prints them all, and exported sorts them out.
const sourceExportScript = `if command -v bash >/dev/null 2>&1; then
	exec bash -c '
declare -A __paas_before
while IFS= read -r -d "" __paas_kv; do __paas_before[${__paas_kv%%=*}]=${__paas_kv#*=}; done < <(command env -0)
readonly __paas_before
. "$1" >&2 || exit
while IFS= read -r -d "" __paas_kv; do
	__paas_k=${__paas_kv%%=*}
	if [[ ! -v __paas_before[$__paas_k] || ${__paas_before[$__paas_k]} != "${__paas_kv#*=}" ]]; then
		builtin printf "%s\\0" "$__paas_kv"
	fi
done < <(command env -0)' export "$1"
fi
. "$1" >&2 && exec env -0`

// sourceExport applies the buildpack's export file, if it wrote one, the
// way herokuish does: source it in a shell and keep what changed.
func (b *build) sourceExport(ctx context.Context, bp *prepared) error {
	if !b.hasBuildpackFile(bp, "export") {
		return nil
	}
	before := b.env.with(b.exports)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdout := newCappedBuffer(maxExportOutput, cancel)
	tail := console.NewTail(10)
	err := b.sb.Run(ctx, &sandbox.Cmd{
		Args:   []string{"/bin/sh", "-c", sourceExportScript, "export", b.sb.Path(bp.path("export"))},
		Env:    before.list(),
		Dir:    b.sb.Path(BuildDir),
		Stdout: stdout,
		Stderr: tail,
	})
	env, overErr := stdout.bytes()
	if overErr != nil {
		return fmt.Errorf("%w: buildpack %s: sourcing its export file %w", ErrCompile, bp.Ref, overErr)
	}
	if err != nil {
		return fmt.Errorf("%w: buildpack %s: sourcing its export file: %w\n%s", ErrCompile, bp.Ref, err, indent(tail.Lines()))
	}
	for k, v := range exported(before, parseEnvZ(env)) {
		b.exports[k] = v
	}
	return nil
}

// checkProcfile fails fast on a malformed Procfile, before a long compile.
func (b *build) checkProcfile() error {
	_, err := b.app.readProcfile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrProcfile, err)
	}
	return nil
}
