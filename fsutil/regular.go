package fsutil

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// ReadRegular reads the regular file rel inside root, failing when it is
// larger than limit bytes, without reading more than that. It is for trees
// other code wrote (a buildpack's layers, a stack): links are followed
// inside root only, and anything but a regular file (a FIFO, whose opening
// would wait for a writer for ever, a device) is refused before it is
// opened, and it is opened without blocking and checked again.
func ReadRegular(root *os.Root, rel string, limit int64) ([]byte, error) {
	if fi, err := root.Stat(rel); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", rel)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, limit)
	}
	return data, nil
}
