package sandbox

import "golang.org/x/sys/unix"

// hostArch is x86-64; x32 calls (numbers from 0x40000000) are refused, so
// the filter's numbers cannot be bypassed through that ABI.
var hostArch = seccompArch{
	audit:        unix.AUDIT_ARCH_X86_64,
	firstForeign: 0x40000000,
	denied:       append([]uintptr{unix.SYS_IOPL, unix.SYS_IOPERM}, deniedCalls...),
	absent:       absentCalls,
	clone:        unix.SYS_CLONE,
}
