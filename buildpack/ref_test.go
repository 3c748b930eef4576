package buildpack

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, filepath.Join(dir, "with#hash", "x"), "", 0o644)
	tests := []struct {
		name string
		ref  string
		want location
	}{
		{name: "github https is git", ref: "https://github.com/heroku/heroku-buildpack-go", want: location{kind: kindGit, src: "https://github.com/heroku/heroku-buildpack-go"}},
		{name: "https git with ref", ref: "https://h.test/x.git#v1.2", want: location{kind: kindGit, src: "https://h.test/x.git", rev: "v1.2"}},
		{name: "tgz URL", ref: "https://h.test/b/nodejs.tgz", want: location{kind: kindArchiveURL, src: "https://h.test/b/nodejs.tgz"}},
		{name: "tar.gz URL with query", ref: "http://h.test/b.tar.gz?x=1", want: location{kind: kindArchiveURL, src: "http://h.test/b.tar.gz?x=1"}},
		{name: "upper-case scheme", ref: "HTTPS://h.test/b.tgz", want: location{kind: kindArchiveURL, src: "HTTPS://h.test/b.tgz"}},
		{name: "git scheme", ref: "git://h.test/x#main", want: location{kind: kindGit, src: "git://h.test/x", rev: "main"}},
		{name: "ssh scheme", ref: "ssh://git@h.test/x.git", want: location{kind: kindGit, src: "ssh://git@h.test/x.git"}},
		{name: "scp-like", ref: "git@github.com:heroku/heroku-buildpack-go.git#abc", want: location{kind: kindGit, src: "git@github.com:heroku/heroku-buildpack-go.git", rev: "abc"}},
		{name: "file URL repo", ref: "file:///srv/bp.git", want: location{kind: kindGit, src: "/srv/bp.git"}},
		{name: "file URL dir with ref is git", ref: "file:///srv/bp#main", want: location{kind: kindGit, src: "/srv/bp", rev: "main"}},
		{name: "file URL dir", ref: "file:///srv/bp", want: location{kind: kindDir, src: "/srv/bp"}},
		{name: "file URL archive", ref: "file:///srv/bp.tgz", want: location{kind: kindArchive, src: "/srv/bp.tgz"}},
		{name: "relative dir", ref: "./bp", want: location{kind: kindDir, src: filepath.Join(dir, "bp")}},
		{name: "absolute dir", ref: "/srv/bp/", want: location{kind: kindDir, src: "/srv/bp"}},
		{name: "local archive", ref: "vendor/bp.tar.gz", want: location{kind: kindArchive, src: filepath.Join(dir, "vendor/bp.tar.gz")}},
		{name: "local repo", ref: "/srv/bp.git", want: location{kind: kindGit, src: "/srv/bp.git"}},
		{name: "local path with ref", ref: "./bp#v1", want: location{kind: kindGit, src: filepath.Join(dir, "bp"), rev: "v1"}},
		{name: "existing dir with hash", ref: "with#hash", want: location{kind: kindDir, src: filepath.Join(dir, "with#hash")}},
		{name: "colon after slash is a path", ref: "./a:b", want: location{kind: kindDir, src: filepath.Join(dir, "a:b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRef(tt.ref)
			if err != nil {
				t.Fatalf("parseRef(%q) error = %v", tt.ref, err)
			}
			if got != tt.want {
				t.Errorf("parseRef(%q) = %+v, want %+v", tt.ref, got, tt.want)
			}
		})
	}
}

func TestParseRefErrors(t *testing.T) {
	tests := []struct {
		name string
		ref  string
	}{
		{name: "empty", ref: " "},
		{name: "leading dash", ref: "--upload-pack=x"},
		{name: "dash ref", ref: "https://h.test/x.git#-x"},
		{name: "archive URL with ref", ref: "https://h.test/x.tgz#v1"},
		{name: "remote file URL", ref: "file://otherhost/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := parseRef(tt.ref); err == nil {
				t.Errorf("parseRef(%q) = %+v, want error", tt.ref, got)
			}
		})
	}
}

func TestNameOf(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "https git", src: "https://github.com/heroku/heroku-buildpack-go.git", want: "heroku-buildpack-go"},
		{name: "https no suffix", src: "https://github.com/heroku/heroku-buildpack-nodejs", want: "heroku-buildpack-nodejs"},
		{name: "tgz", src: "https://h.test/b/nodejs.tgz", want: "nodejs"},
		{name: "tar.gz", src: "/x/heroku-buildpack-go.tar.gz", want: "heroku-buildpack-go"},
		{name: "scp-like", src: "git@github.com:heroku/heroku-buildpack-ruby.git", want: "heroku-buildpack-ruby"},
		{name: "trailing slash", src: "/srv/my-bp/", want: "my-bp"},
		{name: "root", src: "/", want: "buildpack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nameOf(tt.src); got != tt.want {
				t.Errorf("nameOf(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, seed := range []string{"https://h.test/x.git#v1", "git@h:x.git", "file:///a#b", "./bp.tgz", "-x", "a://b#-c", "%zz://"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		loc, err := parseRef(ref)
		if err != nil {
			return
		}
		if strings.HasPrefix(loc.rev, "-") || strings.HasPrefix(loc.src, "-") {
			t.Errorf("parseRef(%q) = %+v, want no leading '-' that git would take for an option", ref, loc)
		}
		if loc.kind != kindGit && loc.rev != "" {
			t.Errorf("parseRef(%q) = %+v, want a #ref only on git references", ref, loc)
		}
	})
}
