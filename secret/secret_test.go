package secret

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://github.com/heroku/heroku-buildpack-go", "https://github.com/heroku/heroku-buildpack-go"},
		{"https://user:tok3n@git.example.com/bp.git#v1", "https://git.example.com/bp.git#v1"},
		{"https://x-access-token:ghp_abc@github.com/a/b.git", "https://github.com/a/b.git"},
		{"https://user:p@ss@host:8443/simple", "https://host:8443/simple"},
		{"fetching https://a:b@one.example/x.tgz and http://c@two.example/y", "fetching https://one.example/x.tgz and http://two.example/y"},
		{"GOPROXY=https://me:secret@proxy.corp,direct", "GOPROXY=https://proxy.corp,direct"},
		{"git@github.com:acme/bp.git", "git@github.com:acme/bp.git"},
		{"mail me at a@b.example", "mail me at a@b.example"},
		{"https://host/path?q=a@b", "https://host/path?q=a@b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
