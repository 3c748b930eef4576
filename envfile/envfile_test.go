package envfile

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[string]string
	}{
		{name: "empty", content: "", want: map[string]string{}},
		{
			name:    "plain, export, comments and blanks",
			content: "# config\n\nA=1\nexport B=two words\n\texport\tC=3\n  # indented comment\nD=\n",
			want:    map[string]string{"A": "1", "B": "two words", "C": "3", "D": ""},
		},
		{name: "Dokku BUILDPACK_URL with fragment", content: "BUILDPACK_URL=https://example.test/bp.git#v1\n", want: map[string]string{"BUILDPACK_URL": "https://example.test/bp.git#v1"}},
		{name: "inline comment after blank", content: "A=x # note\nB=a#b", want: map[string]string{"A": "x", "B": "a#b"}},
		{name: "value keeps '=' and spaces around it trimmed", content: "URL = postgres://u:p@h/db?a=b  \n", want: map[string]string{"URL": "postgres://u:p@h/db?a=b"}},
		{name: "single quotes are literal", content: `A='x \n "y" # z'` + "\nB=''", want: map[string]string{"A": `x \n "y" # z`, "B": ""}},
		{
			name:    "double quote escapes",
			content: `A="line1\nline2"` + "\n" + `B="say \"hi\" \\ end"` + "\n" + `C="C:\temp\x"` + "\n" + `D=" padded " # note`,
			want:    map[string]string{"A": "line1\nline2", "B": `say "hi" \ end`, "C": `C:\temp\x`, "D": " padded "},
		},
		{name: "later line wins", content: "A=1\nA=2", want: map[string]string{"A": "2"}},
		{name: "CRLF", content: "A=1\r\nB=\"2\"\r\n", want: map[string]string{"A": "1", "B": "2"}},
		{name: "key named export", content: "export=1\nexporter=2", want: map[string]string{"export": "1", "exporter": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			writeFile(t, path, tt.content)
			got, err := Read(path)
			if err != nil {
				t.Fatalf("Read() error = %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Read() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "no equals", content: "A=1\nJUST_A_WORD", wantErr: `line 2: "JUST_A_WORD" has no '='`},
		{name: "bad key", content: "1A=x", wantErr: `line 1: "1A" is not a valid variable name`},
		{name: "key with dash", content: "\n\nMY-KEY=x", wantErr: `line 3: "MY-KEY" is not a valid variable name`},
		{name: "empty key", content: "=x", wantErr: `line 1: "" is not a valid variable name`},
		{name: "unterminated double", content: `A="abc`, wantErr: "line 1: A: unterminated double quote"},
		{name: "unterminated single", content: `A='abc`, wantErr: "line 1: A: unterminated single quote"},
		{name: "junk after quote", content: `A="x" y`, wantErr: `line 1: A: unexpected "y" after the closing quote`},
		{name: "export without assignment", content: "export A", wantErr: `line 1: "A" has no '='`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.env")
			writeFile(t, path, tt.content)
			got, err := Read(path)
			if err == nil {
				t.Fatalf("Read() = %v, want error containing %q", got, tt.wantErr)
			}
			if want := path + " " + tt.wantErr; !strings.Contains(err.Error(), want) {
				t.Errorf("Read() error = %q, want it to contain %q", err, want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("errors.Is(%v, ErrSyntax) = false, want true", err)
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), ".env"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestParseVar(t *testing.T) {
	tests := []struct {
		name      string
		kv        string
		wantKey   string
		wantValue string
		wantErr   string
	}{
		{name: "simple", kv: "A=1", wantKey: "A", wantValue: "1"},
		{name: "empty value", kv: "A=", wantKey: "A", wantValue: ""},
		{name: "value verbatim", kv: `_X9=a=b "c" # d`, wantKey: "_X9", wantValue: `a=b "c" # d`},
		{name: "no equals", kv: "A", wantErr: `--env "A": no '='; want KEY=VALUE`},
		{name: "bad key", kv: "9A=1", wantErr: `--env "9A=1": "9A" is not a valid variable name`},
		{name: "space in key", kv: "A B=1", wantErr: `"A B" is not a valid variable name`},
		{name: "empty key", kv: "=1", wantErr: `"" is not a valid variable name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, value, err := ParseVar(tt.kv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSyntax) {
					t.Errorf("ParseVar(%q) = %q, %q, %v, want ErrSyntax containing %q", tt.kv, key, value, err, tt.wantErr)
				}
				return
			}
			if err != nil || key != tt.wantKey || value != tt.wantValue {
				t.Errorf("ParseVar(%q) = %q, %q, %v, want %q, %q", tt.kv, key, value, err, tt.wantKey, tt.wantValue)
			}
		})
	}
}

// quote writes value in double quotes with the escapes Read decodes.
func quote(value string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(value) + `"`
}

func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"A=1\nexport B='x'\n# c\nC=\"a\\nb\\\"\" # c\n",
		"A=\"unterminated",
		"X=a #b\nY=a#b",
		"export\tK = v \r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		env, err := parse(strings.NewReader(content), ".env")
		if err != nil {
			return
		}
		var b strings.Builder
		for k, v := range env {
			if !validKey(k) {
				t.Fatalf("parse() gave invalid key %q", k)
			}
			b.WriteString("export " + k + "=" + quote(v) + "\n")
		}
		again, err := parse(strings.NewReader(b.String()), ".env")
		if err != nil {
			t.Fatalf("parse(quoted %q) error = %v", env, err)
		}
		if !maps.Equal(again, env) {
			t.Errorf("parse(quoted) = %q, want %q", again, env)
		}
	})
}

// FuzzParseVar checks that an accepted --env argument gives a valid name
// and the value verbatim.
func FuzzParseVar(f *testing.F) {
	f.Fuzz(func(t *testing.T, kv string) {
		key, value, err := ParseVar(kv)
		if err != nil {
			return
		}
		if !validKey(key) || key+"="+value != kv {
			t.Errorf("ParseVar(%q) = %q, %q, want a valid key and the value verbatim", kv, key, value)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
