package sandbox

import "golang.org/x/sys/unix"

// hostArch is AArch64.
var hostArch = seccompArch{
	audit:  unix.AUDIT_ARCH_AARCH64,
	denied: deniedCalls,
	absent: absentCalls,
	clone:  unix.SYS_CLONE,
}
