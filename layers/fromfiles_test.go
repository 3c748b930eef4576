package layers

import (
	"archive/tar"
	"errors"
	"io/fs"
	"reflect"
	"testing"
)

func TestFromFiles(t *testing.T) {
	files := []File{
		{Path: "cnb/lifecycle/launcher", Mode: 0o755, Body: []byte("#!/bin/sh\n")},
		{Path: "cnb", Mode: fs.ModeDir | 0o755},
		{Path: "cnb/process/web", Mode: fs.ModeSymlink, Link: "../lifecycle/launcher"},
		{Path: "cnb/lifecycle", Mode: fs.ModeDir | 0o750},
		{Path: "cnb/process", Mode: fs.ModeDir | 0o755},
	}
	want := []entry{
		{Name: "layers/cnb/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "layers/cnb/lifecycle/", Type: tar.TypeDir, Mode: 0o750},
		{Name: "layers/cnb/lifecycle/launcher", Type: tar.TypeReg, Mode: 0o755, Size: 10},
		{Name: "layers/cnb/process/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "layers/cnb/process/web", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "../lifecycle/launcher"},
	}
	tests := []struct {
		name  string
		files []File
	}{
		{name: "given order", files: files},
		{name: "reversed", files: []File{files[4], files[3], files[2], files[1], files[0]}},
	}
	var digests []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := FromFiles(tt.files, WithPrefix("layers"), WithTempDir(t.TempDir()))
			if err != nil {
				t.Fatalf("FromFiles() = %v", err)
			}
			want := append([]entry{{Name: "layers/", Type: tar.TypeDir, Mode: 0o755}}, want...)
			if got := entries(readLayer(t, l)); !reflect.DeepEqual(got, want) {
				t.Errorf("FromFiles() entries =\n%v\nwant\n%v", got, want)
			}
			checkLayer(t, l)
			d, _ := mustDigests(t, l)
			digests = append(digests, d.String())
		})
	}
	if len(digests) == 2 && digests[0] != digests[1] {
		t.Errorf("FromFiles() digests = %q, want both equal", digests)
	}
}

func TestFromFilesErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		want  error
	}{
		{name: "empty path", files: []File{{Path: ""}}, want: ErrInvalidPath},
		{name: "dot", files: []File{{Path: "."}}, want: ErrInvalidPath},
		{name: "absolute", files: []File{{Path: "/etc/passwd"}}, want: ErrInvalidPath},
		{name: "climbs out", files: []File{{Path: "../x"}}, want: ErrInvalidPath},
		{name: "not clean", files: []File{{Path: "a/../b"}}, want: ErrInvalidPath},
		{name: "trailing slash", files: []File{{Path: "a/", Mode: fs.ModeDir}}, want: ErrInvalidPath},
		{name: "twice", files: []File{{Path: "a"}, {Path: "a"}}, want: ErrInvalidPath},
		{name: "fifo", files: []File{{Path: "p", Mode: fs.ModeNamedPipe}}, want: ErrUnsupportedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromFiles(tt.files, WithTempDir(t.TempDir()))
			if !errors.Is(err, tt.want) {
				t.Errorf("FromFiles() = %v, want %v", err, tt.want)
			}
		})
	}
}
