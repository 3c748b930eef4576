package sandbox

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestSeccompProgram runs the filter in x/net/bpf's interpreter on crafted
// seccomp_data.
func TestSeccompProgram(t *testing.T) {
	vm, err := bpf.NewVM(seccompProgram(hostArch))
	if err != nil {
		t.Fatalf("NewVM() = %v", err)
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	tests := []struct {
		name string
		arch uint32
		nr   uintptr
		arg0 uint64
		want uint32
	}{
		{"read", hostArch.audit, unix.SYS_READ, 0, unix.SECCOMP_RET_ALLOW},
		{"mount", hostArch.audit, unix.SYS_MOUNT, 0, eperm},
		{"mount_setattr", hostArch.audit, unix.SYS_MOUNT_SETATTR, 0, eperm},
		{"unshare", hostArch.audit, unix.SYS_UNSHARE, 0, eperm},
		{"ptrace", hostArch.audit, unix.SYS_PTRACE, 0, eperm},
		{"keyctl", hostArch.audit, unix.SYS_KEYCTL, 0, eperm},
		{"clone3", hostArch.audit, unix.SYS_CLONE3, 0, enosys},
		{"fork by clone", hostArch.audit, unix.SYS_CLONE, uint64(unix.SIGCHLD), unix.SECCOMP_RET_ALLOW},
		{"thread by clone", hostArch.audit, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND, unix.SECCOMP_RET_ALLOW},
		{"clone new user namespace", hostArch.audit, unix.SYS_CLONE, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD), eperm},
		{"clone new mount namespace", hostArch.audit, unix.SYS_CLONE, unix.CLONE_NEWNS, eperm},
		{"other architecture", 0x40000003, unix.SYS_READ, 0, unix.SECCOMP_RET_KILL_PROCESS},
	}
	if hostArch.firstForeign != 0 {
		tests = append(tests, struct {
			name string
			arch uint32
			nr   uintptr
			arg0 uint64
			want uint32
		}{"x32 mount", hostArch.audit, uintptr(hostArch.firstForeign) + unix.SYS_MOUNT, 0, eperm})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The interpreter loads words big-endian, the kernel in the
			// machine's order: each word is stored so both read the same.
			data := make([]byte, 64)
			binary.BigEndian.PutUint32(data[offNR:], uint32(tt.nr))
			binary.BigEndian.PutUint32(data[offArch:], tt.arch)
			binary.BigEndian.PutUint32(data[offArg0:], uint32(tt.arg0))
			got, err := vm.Run(data)
			if err != nil || uint32(got) != tt.want {
				t.Errorf("filter(%s) = %#x, %v; want %#x", tt.name, got, err, tt.want)
			}
		})
	}
}

// testConfined checks, from inside, that commands run with no_new_privs,
// the reduced bounding set and the filter, and that the escapes these stop
// fail: remounting the read-only /sys writable, a new user namespace, a
// host sysctl; and that root inside is not host root.
func testConfined(t *testing.T, m mode) {
	f := newFixture(t, m, NetworkHost)
	status := f.mustSh(t, "grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/self/status")
	want := fmt.Sprintf("CapBnd:\t%016x\nNoNewPrivs:\t1\nSeccomp:\t2\n", keptMask())
	if status != want {
		t.Errorf("/proc/self/status = %q, want %q", status, want)
	}
	escapes := []struct{ name, script string }{
		{"remount /sys", fmt.Sprintf(`perl -e 'my ($s, $t) = ("none", "/sys"); exit(syscall(%d, $s, $t, 0, %d, 0) == -1 && $!{EPERM} ? 0 : 1)'`,
			unix.SYS_MOUNT, unix.MS_REMOUNT|unix.MS_BIND)},
		{"unshare user", fmt.Sprintf(`perl -e 'exit(syscall(%d, %d) == -1 && $!{EPERM} ? 0 : 1)'`, unix.SYS_UNSHARE, unix.CLONE_NEWUSER)},
		{"core_pattern", "! echo x 2>/dev/null >/proc/sys/kernel/core_pattern"},
	}
	for _, e := range escapes {
		if _, errOut, err := f.sh(t, e.script); err != nil {
			t.Errorf("%s: not refused as expected (%v): %s", e.name, err, errOut)
		}
	}
	uidMap := f.mustSh(t, "cat /proc/self/uid_map")
	if m.ids.kind == mapRoot && strings.Fields(uidMap)[1] == "0" {
		t.Errorf("uid_map as root = %q, want no host 0", uidMap)
	}
}

// keptMask is keptCaps as a CapBnd mask.
func keptMask() uint64 {
	var mask uint64
	for _, c := range keptCaps {
		mask |= 1 << c
	}
	return mask
}
