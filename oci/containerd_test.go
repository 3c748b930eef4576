package oci

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/paas-dev/paas/internal/testenv"
)

// TestArchivesImportIntoContainerd imports each archive output into a real
// containerd with its Go client, checks the name it lists and unpacks the
// layers into a snapshot.
func TestArchivesImportIntoContainerd(t *testing.T) {
	testenv.Require(t, testenv.Daemon)
	c, err := client.New(testenv.Containerd(t))
	if err != nil {
		t.Fatalf("client.New() = %v", err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), "paas-oci-test")
	img := randomImage(t, 64<<10, 2)
	oci, err := OCI(img)
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	cfgName, _ := img.ConfigName()
	tests := []struct {
		transport string
		name      string
		wantName  string
	}{
		{TransportDockerArchive, "paas-test/docker:v1", "docker.io/paas-test/docker:v1"},
		{TransportOCIArchive, "paas-test/oci:v1", "docker.io/paas-test/oci:v1"},
		{TransportDockerArchive, "localhost:5000/app", "localhost:5000/app:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.transport+" "+tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "image.tar")
			if err := Write(ctx, oci, tt.transport+":"+path, tt.name); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			imported, err := c.Import(ctx, f)
			if err != nil {
				t.Fatalf("Import() = %v", err)
			}
			var names []string
			for _, i := range imported {
				names = append(names, i.Name)
			}
			if !slices.Contains(names, tt.wantName) {
				t.Fatalf("Import() names = %v, want %s", names, tt.wantName)
			}
			listed, err := c.GetImage(ctx, tt.wantName)
			if err != nil {
				t.Fatalf("GetImage(%s) = %v", tt.wantName, err)
			}
			cfg, err := listed.Config(ctx)
			if err != nil {
				t.Fatalf("Config() = %v", err)
			}
			if cfg.Digest.String() != cfgName.String() {
				t.Errorf("imported config = %s, want %s", cfg.Digest, cfgName)
			}
			if err := listed.Unpack(ctx, ""); err != nil {
				t.Errorf("Unpack() = %v", err)
			}
			if err := c.ImageService().Delete(ctx, tt.wantName); err != nil {
				t.Errorf("deleting image: %v", err)
			}
		})
	}
}
