package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// keptCaps is the capability bounding set of sandboxed commands: what
// package managers and build tools use as root inside (changing owners and
// modes, reading any file of the tree, switching users, binding low ports,
// chroot), and nothing that reaches the kernel beyond the sandbox's own
// files: CAP_SYS_ADMIN (mount, namespaces), CAP_SYS_MODULE, CAP_SYS_RAWIO,
// CAP_SYS_PTRACE, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_SYS_RESOURCE,
// CAP_NET_ADMIN, CAP_NET_RAW, CAP_MKNOD (device nodes need host root
// anyway), CAP_DAC_READ_SEARCH (open_by_handle_at), CAP_BPF, CAP_PERFMON,
// CAP_SYSLOG, CAP_AUDIT_CONTROL, CAP_AUDIT_READ, CAP_MAC_*, CAP_IPC_LOCK,
// CAP_IPC_OWNER, CAP_LEASE, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
// CAP_LINUX_IMMUTABLE, CAP_SYS_NICE, CAP_SYS_PACCT, CAP_SYS_TTY_CONFIG,
// CAP_CHECKPOINT_RESTORE are dropped.
var keptCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID,
	unix.CAP_KILL, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP,
	unix.CAP_NET_BIND_SERVICE, unix.CAP_SYS_CHROOT, unix.CAP_AUDIT_WRITE,
	unix.CAP_SETFCAP,
}

// harden confines the calling thread, and so every process it starts, for
// the command: no_new_privs (set-ID files and file capabilities grant
// nothing), the reduced bounding set keptCaps, and the seccomp filter of
// seccompProgram. The caller must have locked its goroutine to the thread
// (runtime.LockOSThread) and start the command from it, since all three
// are per thread.
func harden() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	if err := dropCaps(); err != nil {
		return err
	}
	return installSeccomp()
}

// dropCaps removes every capability but keptCaps from the bounding set.
func dropCaps() error {
	keep := map[int]bool{}
	for _, c := range keptCaps {
		keep[c] = true
	}
	for c := 0; c <= unix.CAP_LAST_CAP+8; c++ {
		if keep[c] {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // past the last capability this kernel knows
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

// installSeccomp loads seccompProgram into the calling thread.
func installSeccomp() error {
	filter, err := seccompFilter()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
	runtime.KeepAlive(filter)
	if err != nil {
		return fmt.Errorf("installing the seccomp filter: %w", err)
	}
	return nil
}

// seccompFilter assembles seccompProgram for this architecture.
func seccompFilter() ([]unix.SockFilter, error) {
	raw, err := bpf.Assemble(seccompProgram(hostArch))
	if err != nil {
		return nil, fmt.Errorf("assembling the seccomp filter: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// seccompArch is what the filter needs to know of an architecture.
type seccompArch struct {
	audit uint32 // AUDIT_ARCH_* the kernel reports for native calls
	// firstForeign, when not 0, is the first number of another ABI sharing
	// the architecture (x32 on x86-64), refused as a whole.
	firstForeign uint32
	denied       []uintptr // refused with EPERM
	absent       []uintptr // refused with ENOSYS, so callers fall back
	clone        uintptr
}

// deniedCalls are refused with EPERM on every architecture: mounting and
// namespaces (so no bind can be remounted writable and no new user
// namespace regains capabilities), kernel modules and kexec, eBPF,
// keyrings, tracing other processes and reading their memory, file
// handles, perf, userfaultfd, swap, reboot and quotas.
var deniedCalls = []uintptr{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOVE_MOUNT,
	unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE,
	unix.SYS_DELETE_MODULE, unix.SYS_BPF, unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PIDFD_GETFD,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD, unix.SYS_ACCT,
}

// absentCalls are refused with ENOSYS: clone3, whose flags live in memory
// a filter cannot read (libc then falls back to clone, whose flags it
// can), and io_uring, whose operations bypass the filter (libuv and
// others fall back to plain calls).
var absentCalls = []uintptr{
	unix.SYS_CLONE3, unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}

// cloneNamespaces are the clone flags that create namespaces.
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Offsets in struct seccomp_data.
const (
	offNR   = 0
	offArch = 4
	offArg0 = 16 // the low half on little-endian machines
)

// seccompProgram is the filter: calls of another architecture kill the
// process; a's denied calls, and clone with namespace flags, fail with
// EPERM, its absent calls with ENOSYS; everything else is allowed.
func seccompProgram(a seccompArch) []bpf.Instruction {
	allow := bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}
	eperm := bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)}
	enosys := bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: a.audit, SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS},
		bpf.LoadAbsolute{Off: offNR, Size: 4},
	}
	// The tail, after the checks: clone's check, then the returns.
	tail := []bpf.Instruction{
		allow,
		bpf.LoadAbsolute{Off: offArg0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: cloneNamespaces, SkipTrue: 1},
		allow,
		eperm,
		enosys,
	}
	// n checks follow; one that does not jump falls through to the next,
	// and the last to the tail's allow.
	var checks []bpf.Instruction
	n := len(a.denied) + len(a.absent) + 1
	if a.firstForeign != 0 {
		n++
	}
	// jump makes the next check: to tail index t when cond holds.
	jump := func(cond bpf.JumpTest, val uint32, t int) bpf.Instruction {
		return bpf.JumpIf{Cond: cond, Val: val, SkipTrue: uint8(n - len(checks) - 1 + t)}
	}
	const cloneCheck, toEPERM, toENOSYS = 1, 4, 5
	if a.firstForeign != 0 {
		checks = append(checks, jump(bpf.JumpGreaterOrEqual, a.firstForeign, toEPERM))
	}
	for _, nr := range a.denied {
		checks = append(checks, jump(bpf.JumpEqual, uint32(nr), toEPERM))
	}
	for _, nr := range a.absent {
		checks = append(checks, jump(bpf.JumpEqual, uint32(nr), toENOSYS))
	}
	checks = append(checks, jump(bpf.JumpEqual, uint32(a.clone), cloneCheck))
	p = append(p, checks...)
	return append(p, tail...)
}
