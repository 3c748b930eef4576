package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree hashes every path, mode, link target and content below dir.
func tree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s %v\n", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintln(h, target)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSameInputsEveryTime(t *testing.T) {
	for _, args := range [][]string{
		{"large", "-files", "2", "-mib", "1"},
		{"node", "-packages", "60"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var sums, counts []string
			for range 2 {
				dir := t.TempDir()
				var out bytes.Buffer
				if err := run(append([]string{args[0], dir}, args[1:]...), &out); err != nil {
					t.Fatal(err)
				}
				sums = append(sums, tree(t, dir))
				counts = append(counts, out.String())
			}
			if sums[0] != sums[1] || counts[0] != counts[1] {
				t.Errorf("two runs differ: %v %q", sums, counts)
			}
			var files, size int64
			if _, err := fmt.Sscan(counts[0], &files, &size); err != nil {
				t.Fatal(err)
			}
			if args[0] == "large" && (files != 3 || size < 2<<20) {
				t.Errorf("large wrote %d files, %d bytes; want 2 blobs of 1 MiB and a README", files, size)
			}
			if args[0] == "node" && files < 60*7 {
				t.Errorf("node wrote %d files for 60 packages; want at least 7 each", files)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"large"}, {"other", t.TempDir()}} {
		if err := run(args, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("run(%q) = %v, want the usage", args, err)
		}
	}
}
