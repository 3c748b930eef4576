package fsutil

import "io/fs"

// KindOf names the type of a file that is neither regular, a directory
// nor a symbolic link, for messages about files skipped: "socket",
// "fifo", "character device", "block device", else "irregular file".
func KindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "irregular file"
}
