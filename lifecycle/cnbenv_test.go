package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The environment files of a layer mean the same in the build (apply) and
// at launch (shell, run by /bin/sh): every operation, with and without a
// delimiter, on variables set and unset, values with quotes and newlines.
func TestEnvModsShellMatchesApply(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"SET.override":    "it's \"new\"\nline",
		"PLAIN":           "plain",
		"KEEP.default":    "not used",
		"FRESH.default":   "fresh",
		"LIST.prepend":    "/first",
		"LIST.delim":      ":",
		"TAIL.append":     "end",
		"UNSET.append":    "only",
		"NODELIM.prepend": "x",
		"bad-name":        "skipped",
		"ODD.suffix":      "skipped",
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var warnings []string
	left := int64(maxEnvTotal)
	mods := readEnvDir(root, ".", &left, func(w string) { warnings = append(warnings, w) })
	if len(warnings) != 2 {
		t.Errorf("warnings %q, want 2 (bad-name, ODD.suffix)", warnings)
	}
	start := map[string]string{"SET": "old", "KEEP": "kept", "LIST": "/a:/b", "TAIL": "start", "NODELIM": "y", "PATH": os.Getenv("PATH")}
	want := map[string]string{}
	for k, v := range start {
		want[k] = v
	}
	apply(want, mods)
	if want["LIST"] != "/first:/a:/b" || want["TAIL"] != "startend" || want["KEEP"] != "kept" || want["NODELIM"] != "xy" || want["UNSET"] != "only" {
		t.Errorf("apply gave %q", want)
	}
	script := shell(mods) + "for v in SET PLAIN KEEP FRESH LIST TAIL UNSET NODELIM; do printf '%s=%s\\0' \"$v\" \"$(eval printf %s \\\"\\$$v\\\")\"; done\n"
	cmd := exec.Command("/bin/sh", "-c", script)
	for k, v := range start {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, script)
	}
	for _, kv := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		if v != want[k] {
			t.Errorf("at launch %s=%q, in the build %q", k, v, want[k])
		}
	}
}

// Plans resolve as the CNB lifecycle resolves them: requirements met by the
// same or an earlier buildpack, provisions by the same or a later one, the
// first working choice of [[or]] alternatives, and each provider given the
// requirements of what it provides.
func TestResolvePlans(t *testing.T) {
	node := planEntry{Name: "node", Metadata: map[string]any{"version": "22"}}
	provide := func(names ...string) []planEntry {
		var out []planEntry
		for _, n := range names {
			out = append(out, planEntry{Name: n})
		}
		return out
	}
	plans := []detectPlan{
		{Provides: provide("node")},
		{Provides: provide("npm"), Requires: []planEntry{node, {Name: "npm"}}, Or: []planAlternative{{Requires: []planEntry{node}}}},
		{Requires: provide("yarn"), Or: []planAlternative{{}}},
	}
	out, _, err := resolvePlans(plans, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out[0].Entries) != 1 || out[0].Entries[0].Metadata["version"] != "22" {
		t.Errorf("node's provider got %v, want the requirement with its metadata", out[0].Entries)
	}
	if len(out[1].Entries) != 1 || out[1].Entries[0].Name != "npm" || len(out[2].Entries) != 0 {
		t.Errorf("plans %v, want npm's provider to get npm, the third nothing (its [[or]] chosen)", out)
	}
	if _, _, err := resolvePlans([]detectPlan{{Requires: provide("node")}, {Provides: provide("node")}}, nil); err == nil {
		t.Error("a requirement provided only later resolved")
	}
	// An optional buildpack whose provision nobody requires is left out.
	_, present, err := resolvePlans([]detectPlan{{Provides: provide("node"), Requires: provide("node")}, {Provides: provide("unused")}}, []bool{false, true})
	if err != nil || present[0] != true || present[1] != false {
		t.Errorf("with an optional buildpack that does not fit: present %v, %v; want it left out", present, err)
	}
}

// exec.d executables run at launch in lexical order, each seeing what the
// ones before it set, and set what they print to descriptor 3: TOML
// strings, basic with their escapes or literal; a line that is not a string
// is ignored with a warning.
func TestExecD(t *testing.T) {
	dir := t.TempDir()
	scripts := map[string]string{
		"10-first":  `printf 'A = "one \\"two\\"\\tthree"\nB = '"'"'lit $HOME'"'"'\nN = 5\n' >&3; echo to stdout`,
		"20-second": `printf 'C = "saw %s"\n' "$B" >&3`,
		"30-skip":   "", // not executable
	}
	for name, body := range scripts {
		mode := os.FileMode(0o755)
		if body == "" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	script := shell([]envMod{{op: opExecD, value: dir}}) + `printf '%s|%s|%s|%s' "$A" "$B" "$C" "${N-unset}"`
	for _, sh := range []string{"/bin/sh", "bash"} { // the launcher runs under bash when the image has it
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		cmd := exec.Command(sh, "-c", script)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", sh, err, stderr.String())
		}
		if want := "one \"two\"\tthree|lit $HOME|saw lit $HOME|unset"; string(out) != want {
			t.Errorf("%s: exec.d set %q, want %q", sh, out, want)
		}
		if !strings.Contains(stderr.String(), "to stdout") || !strings.Contains(stderr.String(), "N is not a string") {
			t.Errorf("%s: stderr %q, want the executable's stdout and a warning for N", sh, stderr.String())
		}
	}
}

// A launch layer kept from the last image needs one that has it.
func TestKeptLayerNeedsPrevious(t *testing.T) {
	if _, err := keptLayer(nil, CNBLayer{Buildpack: "a/b", Name: "x"}); err == nil || !strings.Contains(err.Error(), "--no-cache") {
		t.Errorf("keptLayer(no image) = %v, want an error naming --no-cache", err)
	}
}

// Only LAYER.toml files name layers; "." and ".." would name the
// buildpack's directory or its parent.
func TestLayerToml(t *testing.T) {
	for file, want := range map[string]string{"node.toml": "node", "launch.toml": "", "..toml": "", "...toml": "", "a\nb.toml": "", "x.txt": ""} {
		if got, ok := layerToml(file); got != want || ok != (want != "") {
			t.Errorf("layerToml(%q) = %q, %v; want %q", file, got, ok, want)
		}
	}
}
