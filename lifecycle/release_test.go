package lifecycle

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Release
		wantErr string
	}{
		{"empty", "", Release{}, ""},
		{"heroku style", "---\naddons:\n  - heroku-postgresql\ndefault_process_types:\n  web: bin/server --port $PORT\nconfig_vars:\n  LANG: en_US.UTF-8\n",
			Release{DefaultProcessTypes: map[string]string{"web": "bin/server --port $PORT"}, ConfigVars: map[string]string{"LANG": "en_US.UTF-8"}, Addons: []string{"heroku-postgresql"}}, ""},
		{"null types", "default_process_types:\n", Release{}, ""},
		{"invalid yaml", "default_process_types:\n  web: [unclosed\n", Release{}, "invalid YAML"},
		{"bad type name", "default_process_types:\n  'web server': x\n", Release{}, `process type "web server"`},
		{"empty command", "default_process_types:\n  web: ''\n", Release{}, "empty command"},
		{"bad var", "config_vars:\n  1BAD: x\n", Release{}, `config var "1BAD"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRelease([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRelease() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseRelease() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("default_process_types:\n  web: x\nconfig_vars:\n  A: b\n"))
	f.Add([]byte("---\n- [\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRelease(in)
		if err != nil {
			return
		}
		for typ := range r.DefaultProcessTypes {
			if !processType.MatchString(typ) {
				t.Errorf("accepted process type %q", typ)
			}
		}
	})
}

func TestSlugIgnore(t *testing.T) {
	s := slugIgnore{"*.log", "/scratch/", "docs/private", "tmp/"}
	tests := []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"debug.log", false, true},
		{"sub/dir/debug.log", false, true},
		{"scratch", true, true},
		{"scratch", false, false},
		{"lib/scratch", true, false},
		{"docs/private", true, true},
		{"docs/public", true, false},
		{"a/tmp", true, true},
		{"server.pl", false, false},
	}
	for _, tc := range tests {
		if got := s.Match(tc.rel, tc.isDir); got != tc.want {
			t.Errorf("Match(%q, dir=%v) = %v, want %v", tc.rel, tc.isDir, got, tc.want)
		}
	}
}

func TestExported(t *testing.T) {
	before := environ{"PATH": "/bin", "KEEP": "1"}
	after := parseEnvZ([]byte("PATH=/x/bin:/bin\x00KEEP=1\x00NEW=v\x00PWD=/app\x00SHLVL=1\x00_=/usr/bin/env\x00"))
	got := exported(before, after)
	want := map[string]string{"PATH": "/x/bin:/bin", "NEW": "v"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported() = %v, want %v", got, want)
	}
}
