package procfile

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Processes
	}{
		{name: "empty", input: "", want: Processes{}},
		{name: "one", input: "web: node web.js\n", want: Processes{"web": "node web.js"}},
		{name: "no final newline", input: "web: node web.js", want: Processes{"web": "node web.js"}},
		{
			name:  "several with comments and blanks",
			input: "# main\n\nweb: bin/shop\n  # indented comment\nworker: bin/worker --queue=default\n\n",
			want:  Processes{"web": "bin/shop", "worker": "bin/worker --queue=default"},
		},
		{name: "command keeps colons", input: "web: env A=b:c ./run --addr=:5000", want: Processes{"web": "env A=b:c ./run --addr=:5000"}},
		{name: "trailing comment kept verbatim", input: "web: node web.js # main server", want: Processes{"web": "node web.js # main server"}},
		{name: "whitespace trimmed", input: "\t web  :   bundle exec puma  \t\n", want: Processes{"web": "bundle exec puma"}},
		{name: "no space after colon", input: "web:node web.js", want: Processes{"web": "node web.js"}},
		{name: "CRLF line endings", input: "web: a\r\nworker: b\r\n", want: Processes{"web": "a", "worker": "b"}},
		{name: "type characters", input: "Web_2-x: run", want: Processes{"Web_2-x": "run"}},
		{name: "release type", input: "release: ./migrate\nweb: ./serve", want: Processes{"release": "./migrate", "web": "./serve"}},
		{name: "shell variables", input: "web: exec server -p $PORT", want: Processes{"web": "exec server -p $PORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Parse() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
		line    int
	}{
		{
			name:    "no colon",
			input:   "# comment\n\nweb node",
			wantErr: `Procfile line 3: "web node" has no colon; want "type: command"`,
			line:    3,
		},
		{name: "bad type name", input: "web server: run", wantErr: `Procfile line 1: process type "web server" is not valid; want letters, digits, '_' or '-'`, line: 1},
		{name: "type with dot", input: "web.1: run", wantErr: `process type "web.1" is not valid`, line: 1},
		{name: "empty type", input: ": run", wantErr: `process type "" is not valid`, line: 1},
		{name: "empty command", input: "web: a\nworker:   ", wantErr: `Procfile line 2: process type "worker" has an empty command`, line: 2},
		{name: "duplicate", input: "web: a\nworker: b\nweb: c", wantErr: `Procfile line 3: process type "web" is declared twice`, line: 3},
		{name: "too long", input: "web: " + strings.Repeat("x", maxLine), wantErr: "Procfile line 1: line is longer than", line: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("Parse() = %v, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse() error = %q, want it to contain %q", err, tt.wantErr)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line != tt.line {
				t.Errorf("Parse() error = %#v, want *SyntaxError at line %d", err, tt.line)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("errors.Is(%v, ErrSyntax) = false, want true", err)
			}
		})
	}
}

func TestValidType(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		want bool
	}{
		{name: "web", typ: "web", want: true},
		{name: "all classes", typ: "aZ09_-", want: true},
		{name: "empty", typ: "", want: false},
		{name: "space", typ: "a b", want: false},
		{name: "colon", typ: "a:b", want: false},
		{name: "non-ASCII", typ: "wéb", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidType(tt.typ); got != tt.want {
				t.Errorf("ValidType(%q) = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

// serialise writes p back in Procfile form, types sorted for a stable output.
func serialise(p Processes) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(p)) {
		b.WriteString(name + ": " + p[name] + "\n")
	}
	return b.String()
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"web: node web.js # main\nworker: run:it\n",
		"# c\n\n  web :x\r\n",
		"web node",
		"web: a\nweb: b",
		": x",
		"a:\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		got, err := Parse(strings.NewReader(input))
		if err != nil {
			return
		}
		again, err := Parse(strings.NewReader(serialise(got)))
		if err != nil {
			t.Fatalf("Parse(serialise(%v)) error = %v", got, err)
		}
		if !maps.Equal(again, got) {
			t.Errorf("Parse(serialise(%v)) = %v, want %v", got, again, got)
		}
	})
}
