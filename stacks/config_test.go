package stacks

import (
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/sandbox"
)

func TestEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"none", nil, []string{"PATH=" + sandbox.DefaultPath}},
		{"own path", []string{"PATH=/opt/bin", "LANG=C.UTF-8"}, []string{"PATH=/opt/bin", "LANG=C.UTF-8"}},
		{"no path", []string{"LANG=C.UTF-8"}, []string{"LANG=C.UTF-8", "PATH=" + sandbox.DefaultPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := mutate.Config(empty.Image, v1.Config{Env: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Env(img)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Env() = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestSourceDateEpoch(t *testing.T) {
	tests := []struct {
		env  string
		want int64
	}{
		{"", layers.DefaultEpoch.Unix()},
		{"1700000000", 1700000000},
		{"yesterday", layers.DefaultEpoch.Unix()},
		{"-5", layers.DefaultEpoch.Unix()},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.env)
			if got := sourceDateEpoch(); got != tt.want {
				t.Errorf("sourceDateEpoch() with %q = %d, want %d", tt.env, got, tt.want)
			}
		})
	}
}
