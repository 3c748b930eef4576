package lifecycle

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/paas-dev/paas/fsutil"
)

// A CNB layer changes the environment of the buildpacks after it (build
// layers) and of the app (launch layers): its bin/ and lib/ go on PATH and
// the library paths, and each file of its env/, env.build/ or env.launch/
// directory sets one variable. envMod is one such change; the same list is
// applied to the build's environment (apply) and written as a shell script
// the launcher sources (shell), so the two cannot differ.
type envMod struct {
	name, op, value, delim string
	// process, when set, limits the change to that process type's launch
	// (env.launch/PROCESS/).
	process string
}

// The operations of CNB environment files: NAME.override (also plain NAME),
// NAME.default, NAME.prepend and NAME.append, the last two joined by the
// content of NAME.delim, or by nothing when there is none.
const (
	opOverride = "override"
	opDefault  = "default"
	opPrepend  = "prepend"
	opAppend   = "append"
	// opExecD runs the executables of the directory value at launch, each
	// setting the variables it prints to descriptor 3 (exec.d).
	opExecD = "exec.d"
)

// execDShell defines paas_execd, which the launch environment calls for
// each exec.d directory: each executable in it runs in lexical order with
// descriptor 3 open, and what it prints there, a TOML table of strings
// (NAME = "value" or NAME = 'value' lines; the escapes \" \\ \n \t),
// is exported before the next one runs. A failing executable stops the
// start, as in the CNB launcher.
const execDShell = `paas_execd() {
	for paas_x in "$1"/*; do
		[ -f "$paas_x" ] && [ -x "$paas_x" ] || continue
		paas_out=$("$paas_x" 3>&1 >&2) || { echo "paas launcher: $paas_x failed" >&2; exit 70; }
		while IFS= read -r paas_line; do
			paas_key=${paas_line%%=*}
			paas_val=${paas_line#*=}
			paas_key=$(printf '%s' "$paas_key" | tr -d ' \t')
			paas_val=$(printf '%s' "$paas_val" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
			case $paas_key in '' | '#'* | [0-9]* | *[!A-Za-z0-9_]*) continue ;; esac
			case $paas_val in
			\"*\") paas_val=${paas_val#\"}; paas_val=${paas_val%\"}
				paas_val=$(printf '%s' "$paas_val" | sed 's/\\"/\\0042/g'); paas_val=$(printf '%b.' "$paas_val"); paas_val=${paas_val%.} ;;
			\'*\') paas_val=${paas_val#\'}; paas_val=${paas_val%\'} ;;
			*) echo "paas launcher: $paas_x: $paas_key is not a string; ignored" >&2; continue ;;
			esac
			export "$paas_key=$paas_val"
		done <<PAAS_EOF
$paas_out
PAAS_EOF
	done
}
`

// pathMods are the changes a layer's well-known directories make, in the
// order the CNB lifecycle makes them: for a build layer, bin/, lib/ (both
// library paths), include/ and pkgconfig/; for a launch layer, bin/ and
// lib/. dir is the layer on the host (read through root), at the path at
// in the sandbox and the image.
func pathMods(root *os.Root, dir, at string, build bool) []envMod {
	type known struct{ sub, name string }
	list := []known{{"bin", "PATH"}, {"lib", "LD_LIBRARY_PATH"}}
	if build {
		list = append(list, known{"lib", "LIBRARY_PATH"}, known{"include", "CPATH"}, known{"pkgconfig", "PKG_CONFIG_PATH"})
	}
	var mods []envMod
	for _, k := range list {
		if fi, err := root.Lstat(path.Join(dir, k.sub)); err == nil && fi.IsDir() {
			mods = append(mods, envMod{name: k.name, op: opPrepend, value: path.Join(at, k.sub), delim: ":"})
		}
	}
	return mods
}

// maxEnvTotal bounds what a build reads of environment files in all.
const maxEnvTotal = 16 << 20

// readEnvDir reads the environment files of dir (inside root). Files whose
// names are not variable names, and anything not a regular file, are
// skipped with a warning.
func readEnvDir(root *os.Root, dir string, left *int64, warn func(string)) []envMod {
	ents, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		return nil
	}
	files := map[string]string{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := fsutil.ReadRegular(root, path.Join(dir, e.Name()), min(maxMetadata, *left))
		if err != nil {
			warn(fmt.Sprintf("reading %s: %v (environment files take at most %d MiB in all)", path.Join(dir, e.Name()), err, maxEnvTotal>>20))
			continue
		}
		*left -= int64(len(data))
		files[e.Name()] = string(data)
	}
	var mods []envMod
	for _, file := range slices.Sorted(maps.Keys(files)) {
		name, op, _ := strings.Cut(file, ".")
		switch op {
		case "":
			op = opOverride
		case "delim":
			continue
		case opOverride, opDefault, opPrepend, opAppend:
		default:
			warn(fmt.Sprintf("%s: not an environment file (NAME, NAME.override, .default, .prepend, .append or .delim); skipped", path.Join(dir, file)))
			continue
		}
		if !varName.MatchString(name) {
			warn(fmt.Sprintf("%s: %q is not a variable name; skipped", path.Join(dir, file), name))
			continue
		}
		mods = append(mods, envMod{name: name, op: op, value: files[file], delim: files[name+".delim"]})
	}
	return mods
}

// apply makes the changes to env in order; the changes of one process's
// launch have no place in a build and are skipped.
func apply(env map[string]string, mods []envMod) {
	for _, m := range mods {
		if m.process != "" || m.op == opExecD {
			continue
		}
		old, set := env[m.name]
		switch {
		case m.op == opOverride, m.op == opDefault && !set:
			env[m.name] = m.value
		case m.op == opPrepend && old != "":
			env[m.name] = m.value + m.delim + old
		case m.op == opAppend && old != "":
			env[m.name] = old + m.delim + m.value
		case m.op == opPrepend, m.op == opAppend:
			env[m.name] = m.value
		}
	}
}

// shell writes the changes as POSIX shell that makes them in order when
// sourced, a process's own changes only when the launcher starts that
// process type (PAAS_PROCESS_TYPE).
func shell(mods []envMod) string {
	var b strings.Builder
	if slices.ContainsFunc(mods, func(m envMod) bool { return m.op == opExecD }) {
		b.WriteString(execDShell)
	}
	for _, m := range mods {
		v, d, n := shellQuote(m.value), shellQuote(m.delim), m.name
		if m.process != "" {
			fmt.Fprintf(&b, "if [ \"${PAAS_PROCESS_TYPE:-}\" = %s ]; then ", shellQuote(m.process))
		}
		switch m.op {
		case opOverride:
			fmt.Fprintf(&b, "export %s=%s", n, v)
		case opDefault:
			fmt.Fprintf(&b, "if [ -z \"${%s+set}\" ]; then export %s=%s; fi", n, n, v)
		case opPrepend:
			fmt.Fprintf(&b, "if [ -n \"${%s:-}\" ]; then export %s=%s%s\"$%s\"; else export %s=%s; fi", n, n, v, d, n, n, v)
		case opAppend:
			fmt.Fprintf(&b, "if [ -n \"${%s:-}\" ]; then export %s=\"$%s\"%s%s; else export %s=%s; fi", n, n, n, d, v, n, v)
		case opExecD:
			fmt.Fprintf(&b, "paas_execd %s", v)
		}
		if m.process != "" {
			b.WriteString("; fi")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// execDDirs are the exec.d directories of a launch layer dir (inside root)
// that hold something, at their path at in the image: exec.d/, then
// exec.d/TYPE/ for one process type.
func execDDirs(root *os.Root, dir, at string) []envMod {
	ents, err := fs.ReadDir(root.FS(), path.Join(dir, "exec.d"))
	if err != nil || len(ents) == 0 {
		return nil
	}
	mods := []envMod{{op: opExecD, value: path.Join(at, "exec.d")}}
	for _, e := range ents {
		if e.IsDir() && processType.MatchString(e.Name()) {
			mods = append(mods, envMod{op: opExecD, value: path.Join(at, "exec.d", e.Name()), process: e.Name()})
		}
	}
	return mods
}

// processEnvDirs reads the env.launch/PROCESS/ directories of a launch
// layer, in byte order: changes for that process type alone.
func processEnvDirs(root *os.Root, dir string, left *int64, warn func(string)) []envMod {
	ents, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		return nil
	}
	var mods []envMod
	for _, e := range ents {
		if !e.IsDir() || !processType.MatchString(e.Name()) {
			continue
		}
		for _, m := range readEnvDir(root, path.Join(dir, e.Name()), left, warn) {
			m.process = e.Name()
			mods = append(mods, m)
		}
	}
	return mods
}

// shellQuote quotes s for a POSIX shell, as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
