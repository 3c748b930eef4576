package proxy

import "testing"

func TestConnectionsFor(t *testing.T) {
	tests := []struct {
		name  string
		files uint64
		want  int
	}{
		{name: "a common soft limit", files: 1024, want: (1024 - reservedFiles - maxIdlePerBackend) / 2},
		{name: "too few files for the reserve", files: 256, want: minDefaultConnections},
		{name: "systemd's hard limit", files: 524288, want: maxDefaultConnections},
		{name: "unlimited", files: ^uint64(0), want: maxDefaultConnections},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectionsFor(tt.files); got != tt.want {
				t.Errorf("connectionsFor(%d) = %d, want %d", tt.files, got, tt.want)
			}
		})
	}
}
