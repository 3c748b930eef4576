package layers_test

import (
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/paas-dev/paas/layers"
)

// The digests below pin the exact bytes FromFiles writes. If this example
// fails, layers are no longer reproducible across paas versions: every
// cached layer and every image digest changes.
func ExampleFromFiles() {
	tmp, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp) // the caller owns the spooled blobs
	files := []layers.File{
		{Path: "bin", Mode: fs.ModeDir | 0o755},
		{Path: "bin/launcher", Mode: 0o755, Body: []byte("#!/bin/sh\nexec \"$@\"\n")},
		{Path: "bin/start", Mode: fs.ModeSymlink, Link: "launcher"},
	}
	for _, c := range []layers.Compression{layers.Gzip, layers.Zstd} {
		l, err := layers.FromFiles(files, layers.WithPrefix("cnb"), layers.WithCompression(c), layers.WithTempDir(tmp))
		if err != nil {
			fmt.Println(err)
			return
		}
		diffID, _ := l.DiffID()
		digest, _ := l.Digest()
		fmt.Printf("%s diffid %s\n%s digest %s\n", c, diffID, c, digest)
	}
	// Output:
	// gzip diffid sha256:ad100acab944ae117a12ebf42ae45f5e9b85a14c9b6fc514cb7f93f54767c989
	// gzip digest sha256:905dea7eefb0dbe51495a337cb47d74317f1b61ea848ee377e81a4d6e2da3e7f
	// zstd diffid sha256:ad100acab944ae117a12ebf42ae45f5e9b85a14c9b6fc514cb7f93f54767c989
	// zstd digest sha256:e1f2cd2bae70343ce6f2d3546d71bf86069282e8d0997786c79dbef22307ea83
}
