package testenv

import (
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var stackImage struct {
	once sync.Once
	img  v1.Image
	err  error
}

// StackImage returns the test stack (StackTar) as an image that
// fromTarball (stacks.FromTarball, say) makes of the tarball, once per
// test binary.
func StackImage(t testing.TB, fromTarball func(path string) (v1.Image, error)) v1.Image {
	t.Helper()
	path := StackTar(t)
	stackImage.once.Do(func() { stackImage.img, stackImage.err = fromTarball(path) })
	if stackImage.err != nil {
		t.Fatalf("test stack image: %v", stackImage.err)
	}
	return stackImage.img
}
