package builtin

import (
	"strings"
	"testing"
)

// An app that asks for a language version the stack lacks builds with a
// warning that names both versions and a way to get the one asked for; with
// PAAS_STRICT_VERSIONS=1 the compile fails instead (exit 12). An app whose
// versions match hears nothing. The toolchains stack is Debian bookworm's:
// Go 1.19, Node.js 18 and Python 3.11. Every app builds with no network.
func TestVersionChecks(t *testing.T) {
	nodeApp := func(engines, toolVersions string) map[string]string {
		files := map[string]string{
			"package.json": `{"name": "engines", "version": "1.0.0", "engines": {"node": "` + engines + `"}}`,
			"server.js":    "require('http').createServer((q, s) => s.end('hi\\n')).listen(process.env.PORT || 5000);\n",
		}
		if toolVersions != "" {
			files[".tool-versions"] = toolVersions
		}
		return files
	}
	tests := []struct {
		name    string
		fixture string
		files   map[string]string
		want    []string // the warning's lines; none for an app whose versions match
	}{
		{"python-version", "python", map[string]string{".python-version": "3.12\n"}, []string{
			".python-version asks for Python 3.12, but this stack has Python 3.11.",
			"To get Python 3.12, build on a stack that has it: `paas stack create NAME --suite SUITE`",
		}},
		{"runtime.txt", "python", map[string]string{"runtime.txt": "python-3.13.1\n"}, []string{
			"runtime.txt asks for Python 3.13.1, but this stack has Python 3.11.",
		}},
		{"python-tool-versions", "python", map[string]string{".tool-versions": "python 3.13\n"}, []string{
			".tool-versions asks for Python 3.13, but this stack has Python 3.11.",
			"build on a stack made from Debian trixie, which has Python 3.13",
		}},
		{"python-matches", "python", map[string]string{".python-version": "3.11\n", "runtime.txt": "python-3.11\n", ".tool-versions": "python 3.12 3.11\n"}, nil},
		{"engines-node", "", nodeApp(">=20", ""), []string{
			"package.json (engines.node) asks for Node.js >=20, but this stack has Node.js 18.",
			"build on a stack made from Debian trixie, which has Node.js 20.",
			"`paas stack create trixie --suite trixie`, then `paas build --stack trixie`",
		}},
		{"nodejs-tool-versions", "", nodeApp("*", "nodejs 20.1.0\n"), []string{
			".tool-versions asks for Node.js 20.1.0, but this stack has Node.js 18.",
		}},
		{"node-matches", "", nodeApp("^18.0.0 || >=20", "# asdf\nnodejs 18\n"), nil},
		{"nvmrc", "", withFile(nodeApp("*", ""), ".nvmrc", "v20.11.1\n"), []string{
			".nvmrc asks for Node.js 20.11.1, but this stack has Node.js 18.",
		}},
		{"node-version-matches", "", withFile(withFile(nodeApp("*", ""), ".node-version", "18\n"), ".nvmrc", "lts/*\n"), nil},
		{"golang-tool-versions", "go", map[string]string{".tool-versions": "golang 1.22\n"}, []string{
			".tool-versions asks for Go 1.22, but this build uses Go 1.19.",
			"name it in go.mod (`toolchain go1.22.0`) or set the config var GOTOOLCHAIN=go1.22.0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store(t)
			app := appWith(t, tt.fixture, tt.files)
			args := []string{"build", "--stack", "toolchains", "--network", "none", "-t", "builtin-versions-" + strings.ToLower(tt.name)}
			_, out, code := paas(t, append(args, app)...)
			if code != 0 {
				t.Fatalf("paas build = exit %d, want 0\n%s", code, out)
			}
			if len(tt.want) == 0 {
				if strings.Contains(out, " !     ") {
					t.Errorf("the versions match, yet the build warns:\n%s", out)
				}
				return
			}
			for _, want := range append([]string{"Warning: " + tt.want[0], "Set the config var PAAS_STRICT_VERSIONS=1 to make this an error."}, tt.want[1:]...) {
				if !strings.Contains(out, want) {
					t.Errorf("build output lacks %q:\n%s", want, out)
				}
			}

			_, out, code = paas(t, append(args, "-e", "PAAS_STRICT_VERSIONS=1", app)...)
			if code != 12 {
				t.Fatalf("paas build with PAAS_STRICT_VERSIONS=1 = exit %d, want 12 (compile failed)\n%s", code, out)
			}
			for _, want := range []string{"Error: " + tt.want[0], "the config var PAAS_STRICT_VERSIONS is set"} {
				if !strings.Contains(out, want) {
					t.Errorf("build output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// withFile adds a file to an app's files.
func withFile(files map[string]string, name, body string) map[string]string {
	files[name] = body
	return files
}
