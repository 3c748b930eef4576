package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Limits bound what everything one Run starts may use together.
type Limits struct {
	// Pids is how many processes and threads may exist at once (0: no
	// limit): a fork bomb stops there.
	Pids int
	// Memory is how many bytes of memory they may use (0: no limit); past
	// it the kernel kills one.
	Memory int64
}

func (l Limits) none() bool { return l.Pids <= 0 && l.Memory <= 0 }

// cgroupRoot is where the cgroup filesystems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroup is the set of control group directories one Run made.
type cgroup struct{ dirs []string }

// ErrNoCgroups reports that this process cannot create control groups
// with limits: the host does not delegate them (an ordinary user on cgroup
// v1, or on v2 without systemd delegation).
var ErrNoCgroups = errors.New("cgroups with limits are not available")

// CgroupsAvailable reports whether Limits can be enforced with control
// groups here; when not, Run still applies Pids as a per-user process
// limit (RLIMIT_NPROC) and Memory is not enforced.
func CgroupsAvailable() error {
	cg, err := newCgroup("probe-"+strconv.Itoa(os.Getpid()), Limits{Pids: 1 << 20, Memory: 1 << 40})
	if err != nil {
		return err
	}
	cg.remove()
	return nil
}

// joinCgroup puts pid in new control groups with the limits.
func joinCgroup(pid int, l Limits) (*cgroup, error) {
	cg, err := newCgroup("run-"+strconv.Itoa(pid), l)
	if err != nil {
		return nil, err
	}
	for _, dir := range cg.dirs {
		if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			cg.remove()
			return nil, fmt.Errorf("%w: %w", ErrNoCgroups, err)
		}
	}
	return cg, nil
}

// newCgroup makes control groups named paas-NAME below this process's own,
// with the limits set.
func newCgroup(name string, l Limits) (_ *cgroup, retErr error) {
	cg := &cgroup{}
	defer func() {
		if retErr != nil {
			cg.remove()
			retErr = fmt.Errorf("%w: %w", ErrNoCgroups, retErr)
		}
	}()
	if isCgroup2() {
		return cg, cg.make2(name, l)
	}
	if l.Pids > 0 {
		if err := cg.make1("pids", name, "pids.max", strconv.Itoa(l.Pids)); err != nil {
			return cg, err
		}
	}
	if l.Memory > 0 {
		mem := strconv.FormatInt(l.Memory, 10)
		if err := cg.make1("memory", name, "memory.limit_in_bytes", mem); err != nil {
			return cg, err
		}
		// With swap accounting, the same bound on memory plus swap, so
		// that swapping out does not get around the limit.
		return cg, writeIfExists(cg.dirs[len(cg.dirs)-1], "memory.memsw.limit_in_bytes", mem)
	}
	return cg, nil
}

// writeIfExists writes a control file the kernel may not offer.
func writeIfExists(dir, name, value string) error {
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
		return writeFile(dir, name, value)
	}
	return nil // not offered: nothing to write
}

func isCgroup2() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// make1 makes a cgroup v1 group of one controller and sets one limit.
func (cg *cgroup) make1(controller, name, file, value string) error {
	own, err := ownCgroup(controller)
	if err != nil {
		return err
	}
	dir := filepath.Join(cgroupRoot, controller, own, "paas-"+name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	cg.dirs = append(cg.dirs, dir)
	return writeFile(dir, file, value)
}

// make2 makes a cgroup v2 group below this process's own, enabling the
// controllers for it first (the delegation a root or systemd gives).
func (cg *cgroup) make2(name string, l Limits) error {
	own, err := ownCgroup("")
	if err != nil {
		return err
	}
	parent := filepath.Join(cgroupRoot, own)
	if err := writeFile(parent, "cgroup.subtree_control", "+pids +memory"); err != nil {
		return err
	}
	dir := filepath.Join(parent, "paas-"+name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	cg.dirs = append(cg.dirs, dir)
	if l.Pids > 0 {
		if err := writeFile(dir, "pids.max", strconv.Itoa(l.Pids)); err != nil {
			return err
		}
	}
	if l.Memory > 0 {
		if err := writeFile(dir, "memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
			return err
		}
		return writeIfExists(dir, "memory.swap.max", "0")
	}
	return nil
}

// ownCgroup returns this process's group of a v1 controller, or its v2
// group for "".
func ownCgroup(controller string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return parts[2], nil
			}
		}
	}
	return "", fmt.Errorf("no %q cgroup in /proc/self/cgroup", controller)
}

func writeFile(dir, name, value string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644)
}

// remove deletes the groups once their processes are gone; the kernel may
// take a moment to let go of the last exited ones.
func (cg *cgroup) remove() {
	if cg == nil {
		return
	}
	for _, dir := range cg.dirs {
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
