package procfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one Procfile line so a corrupt or binary file cannot make
// the parser hold an unbounded line in memory.
const maxLine = 1 << 20

// Processes maps a process type (e.g. "web") to the command that runs it.
type Processes map[string]string

// ErrSyntax is matched by every *SyntaxError, for callers that only need to
// know the Procfile is malformed (errors.Is(err, procfile.ErrSyntax)).
var ErrSyntax = errors.New("Procfile syntax error") //nolint:staticcheck // ST1005: "Procfile" is a file name

// SyntaxError is a malformed or duplicate line; Line counts from 1.
type SyntaxError struct {
	Line int
	Msg  string
}

// Error names the line and the problem, e.g.
// `Procfile line 3: "web node" has no colon; want "type: command"`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("Procfile line %d: %s", e.Line, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true for every *SyntaxError.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Parse reads "type: command" lines from r. Blank lines and lines whose first
// non-space character is '#' are ignored; anything else that is not a valid
// entry, and a type given twice, is a *SyntaxError.
func Parse(r io.Reader) (Processes, error) {
	procs := Processes{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if err := procs.addLine(n, sc.Text()); err != nil {
			return nil, err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, &SyntaxError{Line: n + 1, Msg: fmt.Sprintf("line is longer than %d bytes", maxLine)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading Procfile: %w", err)
	}
	return procs, nil
}

// addLine parses line number n into p.
func (p Processes) addLine(n int, line string) error {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return nil
	}
	name, command, ok := strings.Cut(trimmed, ":")
	if !ok {
		return &SyntaxError{Line: n, Msg: fmt.Sprintf("%q has no colon; want \"type: command\"", trimmed)}
	}
	name, command = strings.TrimSpace(name), strings.TrimSpace(command)
	if !ValidType(name) {
		return &SyntaxError{Line: n, Msg: fmt.Sprintf("process type %q is not valid; want letters, digits, '_' or '-'", name)}
	}
	if command == "" {
		return &SyntaxError{Line: n, Msg: fmt.Sprintf("process type %q has an empty command", name)}
	}
	if _, dup := p[name]; dup {
		return &SyntaxError{Line: n, Msg: fmt.Sprintf("process type %q is declared twice", name)}
	}
	p[name] = command
	return nil
}

// ValidType reports whether name is a valid process type: one or more of
// [A-Za-z0-9_-]. Callers use it to check types given on the command line.
func ValidType(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
