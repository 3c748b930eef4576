// Package envfile reads environment variables as Dokku and Heroku take
// them: env files (an app's .env, --env-file) of KEY=value lines, and
// --env KEY=VALUE arguments. It knows nothing of builds or runs: callers
// decide which files to read and in which order later values win.
package envfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paas-dev/paas/appfile"
)

// maxEnvLine bounds one env file line so a binary file cannot make the
// reader hold an unbounded line.
const maxEnvLine = 1 << 20

// ErrSyntax is matched by errors for malformed env file lines and --env
// values, for callers that map usage errors to an exit code.
var ErrSyntax = errors.New("malformed environment variable")

// Read reads a Dokku/Heroku style env file (.env, --env-file):
// KEY=value lines with an optional "export " prefix; blank lines and '#'
// lines ignored. A value may be 'single quoted' (literal) or "double quoted"
// (with \n, \", \\ escapes); an unquoted value ends at a " #" comment.
// A later line for the same key wins, as in a shell. A malformed line is an
// error naming the file and line; a missing file matches fs.ErrNotExist.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path)
}

// ReadApp reads the app's .env as Read does, without following a link out
// of the app directory.
func ReadApp(appDir string) (map[string]string, error) {
	f, err := appfile.Open(appDir, ".env")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, ".env")
}

// parse parses env file lines from r; name identifies r in errors.
func parse(r io.Reader, name string) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEnvLine)
	n := 0
	for sc.Scan() {
		n++
		key, value, ok, err := parseEnvLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		if ok {
			env[key] = value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s line %d: %w", name, n+1, err)
	}
	return env, nil
}

// parseEnvLine parses one env file line; ok is false for blank and comment
// lines.
func parseEnvLine(line string) (key, value string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", "", false, nil
	}
	if rest, found := cutExport(line); found {
		line = rest
	}
	key, raw, found := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if !found {
		return "", "", false, syntaxErr("%q has no '='; want KEY=value", line)
	}
	if !validKey(key) {
		return "", "", false, syntaxErr("%q is not a valid variable name; want letters, digits and '_', not starting with a digit", key)
	}
	value, err = parseValue(strings.TrimSpace(raw))
	if err != nil {
		return "", "", false, fmt.Errorf("%s: %w", key, err)
	}
	return key, value, true, nil
}

// cutExport removes a leading "export" keyword followed by blanks.
func cutExport(line string) (string, bool) {
	rest, found := strings.CutPrefix(line, "export")
	if !found || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return line, false
	}
	return strings.TrimLeft(rest, " \t"), true
}

// parseValue decodes the text after '=' (already trimmed).
func parseValue(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", syntaxErr("unterminated single quote")
		}
		return raw[1 : end+1], trailing(raw[end+2:])
	case strings.HasPrefix(raw, `"`):
		value, rest, err := unquoteDouble(raw[1:])
		if err != nil {
			return "", err
		}
		return value, trailing(rest)
	default:
		return stripComment(raw), nil
	}
}

// unquoteDouble decodes s up to its closing double quote and returns what
// follows it. Escapes other than \n, \" and \\ are kept as written, as
// dotenv tools do, so Windows paths and regexps survive.
func unquoteDouble(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case '"', '\\':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", syntaxErr("unterminated double quote")
}

// trailing checks what follows a closing quote: nothing or a comment.
func trailing(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.HasPrefix(rest, "#") {
		return nil
	}
	return syntaxErr("unexpected %q after the closing quote", rest)
}

// stripComment cuts an unquoted value at a '#' that follows a blank, so
// "x # note" is "x" while "http://h/p#frag" keeps its fragment.
func stripComment(raw string) string {
	for i := 1; i < len(raw); i++ {
		if raw[i] == '#' && (raw[i-1] == ' ' || raw[i-1] == '\t') {
			return strings.TrimSpace(raw[:i])
		}
	}
	return raw
}

// ParseVar splits a --env KEY=VALUE argument. The value is taken verbatim
// (the shell has already done the quoting); "KEY=" gives an empty value.
func ParseVar(kv string) (key, value string, err error) {
	key, value, found := strings.Cut(kv, "=")
	if !found {
		return "", "", fmt.Errorf("--env %q: %w", kv, syntaxErr("no '='; want KEY=VALUE"))
	}
	if !validKey(key) {
		return "", "", fmt.Errorf("--env %q: %w", kv, syntaxErr("%q is not a valid variable name; want letters, digits and '_', not starting with a digit", key))
	}
	return key, value, nil
}

// validKey reports whether key matches [A-Za-z_][A-Za-z0-9_]*.
func validKey(key string) bool {
	if key == "" || ('0' <= key[0] && key[0] <= '9') {
		return false
	}
	for _, c := range []byte(key) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// envSyntaxError is a malformed line or --env value; it matches ErrSyntax.
type envSyntaxError struct{ msg string }

func (e *envSyntaxError) Error() string        { return e.msg }
func (e *envSyntaxError) Is(target error) bool { return target == ErrSyntax }

func syntaxErr(format string, args ...any) error {
	return &envSyntaxError{msg: fmt.Sprintf(format, args...)}
}
