package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDest(t *testing.T) {
	tests := []struct {
		dest          string
		wantTransport string
		wantPath      string
		wantErr       bool
	}{
		{"oci:out", "oci", "out", false},
		{"oci-archive:/tmp/app.tar", "oci-archive", "/tmp/app.tar", false},
		{"docker-archive:app.tar", "docker-archive", "app.tar", false},
		{"out", "", "", true},
		{"docker://registry/app", "", "", true},
		{"tar:app.tar", "", "", true},
		{"oci:", "", "", true},
		{"oci:out:app", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.dest, func(t *testing.T) {
			transport, path, err := ParseDest(tt.dest)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidDest) || !strings.Contains(err.Error(), "oci:DIR, oci-archive:FILE or docker-archive:FILE") {
					t.Errorf("ParseDest(%q) = %v, want ErrInvalidDest listing the forms", tt.dest, err)
				}
				return
			}
			if err != nil || transport != tt.wantTransport || path != tt.wantPath {
				t.Errorf("ParseDest(%q) = %q, %q, %v, want %q, %q", tt.dest, transport, path, err, tt.wantTransport, tt.wantPath)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []string{"nowhere", "http:x", "oci:", "oci:" + t.TempDir(), "oci-archive:/nonexistent.tar", "docker-archive:/nonexistent.tar"}
	for _, source := range tests {
		t.Run(source, func(t *testing.T) {
			if _, err := Load(source); err == nil {
				t.Errorf("Load(%q) = nil error, want one", source)
			}
		})
	}
}
