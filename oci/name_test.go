package oci

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"app", "app:latest", false},
		{"app:v1", "app:v1", false},
		{"team/app", "team/app:latest", false},
		{"localhost:5000/app", "localhost:5000/app:latest", false},
		{"registry.example.com/team/app:1.2", "registry.example.com/team/app:1.2", false},
		{"", "", true},
		{"App", "", true},
		{"app@sha256:" + strings.Repeat("0", 64), "", true},
		{"app:bad tag", "", true},
		{"my_app/web__1.v2", "my_app/web__1.v2:latest", false},
		{"..", "", true},
		{".", "", true},
		{"../app", "", true},
		{"a/../b", "", true},
		{"a/./b:v1", "", true},
		{"a//b", "", true},
		{"-app", "", true},
		{"app-", "", true},
		{"..:5000/app", "", true},
		{"app:..", "", true},
		{"app:-x", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidName) {
					t.Errorf("NormalizeName(%q) = %q, %v, want ErrInvalidName", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func ExampleNormalizeName() {
	n, _ := NormalizeName("localhost:5000/shop")
	fmt.Println(n)
	// Output: localhost:5000/shop:latest
}
