package safetoml

import (
	"errors"
	"strings"
	"testing"
)

// Real files pass; deep nesting and long dotted keys, the inputs that make
// the parser's memory explode, are refused before it sees them; strings
// and comments do not count.
func TestCheck(t *testing.T) {
	ok := []string{
		"[[provides]]\nname = \"node\"\n[requires.metadata]\nversion = \"1.2.3\"\n",
		"a = \"" + strings.Repeat("{[.", 100) + "\"\n# " + strings.Repeat("[", 100) + "\nb = '''x\n" + strings.Repeat(".", 100) + "'''\n",
		"x = [[1, 2], {a = 1.5}]\n",
	}
	for _, s := range ok {
		if err := Check([]byte(s)); err != nil {
			t.Errorf("Check(%.40q) = %v", s, err)
		}
	}
	bad := []string{
		"a = " + strings.Repeat("{b=", 200) + strings.Repeat("}", 200) + "\n",
		"[" + strings.Repeat("a.", 200) + "b]\n",
		"x = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
	}
	for _, s := range bad {
		if err := Check([]byte(s)); !errors.Is(err, ErrTooDeep) {
			t.Errorf("Check(%.40q) = %v, want %v", s, err, ErrTooDeep)
		}
	}
	var v map[string]any
	if err := Decode([]byte("a = 1\n"), &v); err != nil || v["a"] != int64(1) {
		t.Errorf("Decode = %v, %v", v, err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte("a = \"x\"\n"))
	f.Add([]byte("b = '''\nmulti\n'''\n[c.d]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Check(data) // never panics
	})
}
