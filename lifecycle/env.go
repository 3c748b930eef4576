package lifecycle

import (
	"bytes"
	"sort"
	"strings"
)

// environ is an ordered set of environment variables.
type environ map[string]string

func parseEnviron(list []string) environ {
	e := environ{}
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e[k] = v
		}
	}
	return e
}

// parseEnvZ parses `env -0` output.
func parseEnvZ(out []byte) environ {
	e := environ{}
	for _, kv := range bytes.Split(out, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && k != "" {
			e[k] = v
		}
	}
	return e
}

// with returns a copy of e with more's variables set over it.
func (e environ) with(more map[string]string) environ {
	out := environ{}
	for k, v := range e {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// list returns KEY=value pairs sorted by key, for exec.
func (e environ) list() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+e[k])
	}
	return out
}

// shellNoise are variables the shell that sources an export file sets
// itself (dash or bash); they are not exports. A file written with bash's
// `export -p` names PWD, OLDPWD and SHLVL too, with the values of the
// buildpack's own shell. Bash's BASH_* state is listed in case an export
// file runs `set -a`; BASH_ENV and exported functions (BASH_FUNC_*) are
// real settings and pass.
var shellNoise = map[string]bool{
	"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true,
	"BASH": true, "BASHOPTS": true, "BASHPID": true, "SHELLOPTS": true,
	"BASH_ARGC": true, "BASH_ARGV": true, "BASH_ARGV0": true, "BASH_COMMAND": true,
	"BASH_EXECUTION_STRING": true, "BASH_LINENO": true, "BASH_SOURCE": true,
	"BASH_SUBSHELL": true, "BASH_VERSINFO": true, "BASH_VERSION": true,
}

// exported returns the variables that after sets differently from before.
func exported(before, after environ) map[string]string {
	out := map[string]string{}
	for k, v := range after {
		if shellNoise[k] {
			continue
		}
		if old, ok := before[k]; !ok || old != v {
			out[k] = v
		}
	}
	return out
}
