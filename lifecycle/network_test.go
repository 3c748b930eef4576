package lifecycle

import (
	"maps"
	"testing"
)

func TestProxyEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    map[string]string
	}{
		{"none", []string{"PATH=/bin", "HTTP_PROXYX=no"}, map[string]string{}},
		{"upper only", []string{"HTTPS_PROXY=http://p:3128"},
			map[string]string{"https_proxy": "http://p:3128", "HTTPS_PROXY": "http://p:3128"}},
		{"lower wins", []string{"HTTP_PROXY=http://upper", "http_proxy=http://lower", "no_proxy=localhost,.corp"},
			map[string]string{"http_proxy": "http://lower", "HTTP_PROXY": "http://lower", "no_proxy": "localhost,.corp", "NO_PROXY": "localhost,.corp"}},
		{"empty is kept", []string{"ALL_PROXY="}, map[string]string{"all_proxy": "", "ALL_PROXY": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProxyEnv(tt.environ); !maps.Equal(got, tt.want) {
				t.Errorf("ProxyEnv(%q) = %v, want %v", tt.environ, got, tt.want)
			}
		})
	}
}
