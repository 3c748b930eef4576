package layers

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnpackConfined(t *testing.T) {
	tests := []struct {
		name    string
		entries func(outside string) []tarEntry
		inside  []string // paths that must exist under dir afterwards
		wantErr bool
	}{
		{name: "dot dot", entries: func(string) []tarEntry { return []tarEntry{fileE("../escape", "x"), fileE("a/../../../up", "x")} }, inside: []string{"escape", "up"}},
		{name: "absolute", entries: func(o string) []tarEntry { return []tarEntry{fileE(o+"/secret", "pwned")} }, inside: []string{"{outside}/secret"}},
		{
			name:    "through absolute symlink",
			entries: func(o string) []tarEntry { return []tarEntry{dirE(o), linkE("out", o), fileE("out/secret", "pwned")} },
			inside:  []string{"{outside}/secret"},
		},
		{
			name: "through relative symlink",
			entries: func(string) []tarEntry {
				return []tarEntry{dirE("outside"), linkE("out", "../../../outside"), fileE("out/secret", "pwned")}
			},
			inside: []string{"outside/secret"},
		},
		{
			name: "through symlink chain",
			entries: func(o string) []tarEntry {
				return []tarEntry{dirE(o), linkE("a", "b"), linkE("b", o+"/.."), fileE("a/outside/secret", "pwned")}
			},
			inside: []string{"{outside}/secret"},
		},
		{
			// The link's target would be inside the root but does not
			// exist; writing through it is refused rather than guessed.
			name:    "through dangling symlink",
			entries: func(o string) []tarEntry { return []tarEntry{linkE("out", o), fileE("out/secret", "pwned")} },
			wantErr: true,
		},
		{
			name:    "symlink replaced by dir",
			entries: func(o string) []tarEntry { return []tarEntry{linkE("d", o), dirE("d/"), fileE("d/secret", "x")} },
			inside:  []string{"d/secret"},
		},
		{
			name:    "hard link to outside file",
			entries: func(o string) []tarEntry { return []tarEntry{hardE("h", o+"/secret")} },
			wantErr: true, // dir/{outside}/secret does not exist
		},
		{
			name:    "hard link through symlink",
			entries: func(o string) []tarEntry { return []tarEntry{linkE("out", o), hardE("h", "out/secret")} },
			wantErr: true,
		},
		{
			name:    "hard link to symlink",
			entries: func(o string) []tarEntry { return []tarEntry{linkE("out", o+"/secret"), hardE("h", "out")} },
			inside:  []string{"h"},
		},
		{
			name: "whiteouts through symlink",
			entries: func(o string) []tarEntry {
				return []tarEntry{linkE("w", o), fileE("w/.wh.secret", ""), fileE("w/.wh..wh..opq", ""), fileE(".wh.w", "")}
			},
		},
		{
			name:    "file over symlink",
			entries: func(o string) []tarEntry { return []tarEntry{linkE("s", o+"/secret"), fileE("s", "replaced")} },
			inside:  []string{"s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			prepareOutside(t, outside)
			before := snapshot(t, base)
			dir := filepath.Join(base, "root")
			err := Unpack(bytes.NewReader(makeTar(t, tt.entries(outside)...)), dir)
			if (err != nil) != tt.wantErr {
				t.Errorf("Unpack() = %v, want error: %v", err, tt.wantErr)
			}
			for _, p := range tt.inside {
				p = strings.ReplaceAll(p, "{outside}", outside)
				if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
					t.Errorf("Unpack() did not create %s inside the root: %v", p, err)
				}
			}
			after := snapshotOutside(t, base, "root")
			if diffs := diffSnapshots(after, before); len(diffs) > 0 {
				t.Errorf("Unpack() changed files outside its root:\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

func TestUnpackErrors(t *testing.T) {
	tests := []struct {
		name string
		tar  []byte
		want error
	}{
		{name: "truncated", tar: makeTar(t, fileE("f", "body"))[:514], want: io.ErrUnexpectedEOF},
		{name: "unknown type", tar: makeTar(t, tarEntry{name: "x", typ: 'Z'}), want: ErrUnsupportedType},
		{name: "file as parent", tar: makeTar(t, fileE("f", "x"), fileE("f/g", "y")), want: unix.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unpack(bytes.NewReader(tt.tar), t.TempDir())
			if !errors.Is(err, tt.want) {
				t.Errorf("Unpack() = %v, want %v", err, tt.want)
			}
		})
	}
}
