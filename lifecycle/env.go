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

// shellNoise are variables every shell sets itself; they are not exports.
var shellNoise = map[string]bool{"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true}

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
