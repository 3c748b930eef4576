package console

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTailKeepsLastLines(t *testing.T) {
	tail := NewTail(3)
	for _, chunk := range []string{"one\ntw", "o\nthree\nfour\n", "fi"} {
		tail.Write([]byte(chunk))
	}
	if got, want := tail.Lines(), []string{"three", "four", "fi"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
}

// A line without end keeps MaxLineBytes, however much is written, and the
// next line starts clean.
func TestTailCutsEndlessLines(t *testing.T) {
	tail := NewTail(2)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 256 {
		tail.Write(chunk)
	}
	if got := tail.Lines(); len(got) != 1 || len(got[0]) != MaxLineBytes+len(" …") {
		t.Fatalf("Lines() = %d lines of %d bytes, want one of %d", len(got), len(got[0]), MaxLineBytes+len(" …"))
	}
	tail.Write([]byte("\nnext\n"))
	if got := tail.Lines(); got[1] != "next" || !strings.HasSuffix(got[0], "x …") {
		t.Errorf("Lines() = %.20q…, want the cut line then next", got)
	}
	if cap(tail.partial) > 2*MaxLineBytes {
		t.Errorf("the partial line holds %d bytes", cap(tail.partial))
	}
}

// Tail.Write is linear in what is written, not in the line's length.
func BenchmarkTailLongLine(b *testing.B) {
	tail := NewTail(15)
	chunk := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(chunk)))
	for range b.N {
		tail.Write(chunk)
	}
}

func TestPrefixerWritesWholeLines(t *testing.T) {
	var out bytes.Buffer
	p := NewPrefixer(&out, "web.1 | ")
	p.Write([]byte("hel"))
	p.Write([]byte("lo\nwor"))
	p.Write([]byte("ld\n"))
	p.Write([]byte("partial"))
	p.Flush()
	want := "web.1 | hello\nweb.1 | world\nweb.1 | partial\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
}

func TestConsoleWithoutTerminalHasNoColour(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, false)
	c.Step("Detecting %s", "buildpacks")
	c.Info("detail")
	c.Warn("careful")
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour codes written to a non-terminal: %q", out.String())
	}
	want := "-----> Detecting buildpacks\n       detail\n !     careful\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	out.Reset()
	New(&out, true).Step("quiet")
	if out.Len() != 0 {
		t.Errorf("quiet console printed %q", out.String())
	}
}

func TestFormats(t *testing.T) {
	if got := Duration(1234 * time.Millisecond); got != "1.2s" {
		t.Errorf("Duration = %q", got)
	}
	sizes := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {63_300_000, "63.3 MB"}, {170401280, "170.4 MB"}, {3 << 30, "3.2 GB"},
	}
	for _, tt := range sizes {
		if got := Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
