package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// mapKind says how ids inside the sandbox relate to host ids.
type mapKind int

const (
	// mapRoot, for root callers: inside ids 0..n-1 are an unprivileged
	// host range (see rootRanges), never host root itself, so root inside
	// is no one in particular outside.
	mapRoot mapKind = iota
	// mapSubID: inside 0 is the caller and 1..n its subordinate range from
	// /etc/subuid and /etc/subgid, written by newuidmap and newgidmap.
	mapSubID
	// mapSelf: only inside 0 exists, as the caller.
	mapSelf
)

// The host ids a root caller maps when /etc/subuid and /etc/subgid have no
// rootUser entry: the classic 16-bit range every Debian stack stays within,
// placed at the top of the positive 32-bit ids (2147418112–2147483647),
// where no distribution allocates users and tools that store ids as signed
// 32-bit numbers still work.
const (
	rootRangeStart = 0x7FFF0000
	rootRange      = 65536
)

// rootUser names the /etc/subuid and /etc/subgid entry whose ranges a root
// caller maps, so administrators choose where sandboxed ids land.
const rootUser = "paas"

// idRange is a run of count host ids starting at start.
type idRange struct{ start, count int }

// idMap is the user namespace mapping a sandbox uses.
type idMap struct {
	kind     mapKind
	uid, gid int        // the caller's host ids
	sub      [2]idRange // subordinate uids and gids, for mapSubID and mapRoot
}

// detectIDMap picks the richest mapping available to this process.
func detectIDMap() idMap {
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		return idMap{kind: mapRoot, sub: rootRanges()}
	}
	m := idMap{kind: mapSelf, uid: uid, gid: gid}
	sub, ok := subIDRanges(uid)
	if !ok {
		return m
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return m
		}
	}
	m.kind, m.sub = mapSubID, sub
	return m
}

// rootRanges returns the host uids and gids a root caller maps (see
// configuredRootRanges).
//
// Root of a user namespace that lacks those host ids (paas run as root in
// a rootless container) is not host root: it maps ids 0–65535 to
// themselves, as far as its own namespace has them.
func rootRanges() [2]idRange {
	sub := configuredRootRanges()
	for i, file := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		if !ownMapCovers(file, sub[i]) {
			self := idRange{0, rootRange}
			return [2]idRange{self, self}
		}
	}
	return sub
}

// configuredRootRanges returns the rootUser entries of /etc/subuid and
// /etc/subgid when both exist and leave host id 0 out, else the fixed
// range at rootRangeStart.
func configuredRootRanges() [2]idRange {
	var sub [2]idRange
	for i, file := range []string{"/etc/subuid", "/etc/subgid"} {
		r, ok := readSubID(file, []string{rootUser})
		if !ok || r.start == 0 {
			fixed := idRange{rootRangeStart, rootRange}
			return [2]idRange{fixed, fixed}
		}
		sub[i] = r
	}
	return sub
}

// ownMapCovers reports whether one line of this process's uid_map or
// gid_map (file) maps every id of r, so that they exist where it runs.
func ownMapCovers(file string, r idRange) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		var inside, host, count int
		if _, err := fmt.Sscan(line, &inside, &host, &count); err != nil {
			continue
		}
		if r.start >= inside && r.start+r.count <= inside+count {
			return true
		}
	}
	return false
}

// subIDRanges returns the caller's first subordinate uid and gid ranges.
func subIDRanges(uid int) ([2]idRange, bool) {
	names := []string{strconv.Itoa(uid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		names = append(names, u.Username)
	}
	var sub [2]idRange
	for i, file := range []string{"/etc/subuid", "/etc/subgid"} {
		r, ok := readSubID(file, names)
		if !ok {
			return sub, false
		}
		sub[i] = r
	}
	return sub, true
}

// readSubID returns the first range in a subuid(5) file for any of names.
func readSubID(file string, names []string) (idRange, bool) {
	f, err := os.Open(file)
	if err != nil {
		return idRange{}, false
	}
	defer f.Close()
	return parseSubID(f, names)
}

func parseSubID(r io.Reader, names []string) (idRange, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || !contains(names, fields[0]) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 == nil && err2 == nil && count > 0 {
			return idRange{start, count}, true
		}
	}
	return idRange{}, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// size returns how many inside ids (0..size-1) are mapped; i is 0 for
// uids and 1 for gids.
func (m idMap) size(i int) int {
	n := 0
	for _, r := range m.ranges(i) {
		n += r.Size
	}
	return n
}

// check fails with ErrUnmappedID when uid or gid has no host id.
func (m idMap) check(uid, gid int) error {
	for i, id := range []int{uid, gid} {
		if id < 0 || id >= m.size(i) {
			return fmt.Errorf("%s %d: %w (ids 0..%d are; %s)", [2]string{"uid", "gid"}[i], id,
				ErrUnmappedID, m.size(i)-1, m.hint())
		}
	}
	return nil
}

func (m idMap) hint() string {
	if m.kind == mapSelf {
		return "install newuidmap/newgidmap (Debian's uidmap) and give the user ranges in /etc/subuid and /etc/subgid"
	}
	return "use an id in that range"
}

// ranges returns the mapping of uids (i = 0) or gids (i = 1) as the kernel
// takes it: runs of inside ids and the host ids they are.
func (m idMap) ranges(i int) []syscall.SysProcIDMap {
	self := [2]int{m.uid, m.gid}[i]
	switch m.kind {
	case mapRoot:
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: m.sub[i].start, Size: m.sub[i].count}}
	case mapSubID:
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: self, Size: 1},
			{ContainerID: 1, HostID: m.sub[i].start, Size: m.sub[i].count}}
	}
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: self, Size: 1}}
}

// String describes the mapping as "uid INSIDE:HOST:COUNT,… gid …": two
// mappings with one description give every inside id the same host id.
func (m idMap) String() string {
	var b strings.Builder
	for i, name := range []string{"uid", "gid"} {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(name + " ")
		for j, r := range m.ranges(i) {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%d:%d:%d", r.ContainerID, r.HostID, r.Size)
		}
	}
	return b.String()
}

// IDMapping describes the user namespace mapping New would use now, e.g.
// "uid 0:2147418112:65536 gid 0:2147418112:65536" for root. What depends on it, such as a
// tree Unpack made, can be keyed by it.
func IDMapping() string { return detectIDMap().String() }

// apply makes Go's fork write the mapping when it can: the kernel lets a
// parent write a mapping of its own ids, and root write any.
func (m idMap) apply(attr *syscall.SysProcAttr) {
	if m.external() {
		return
	}
	attr.UidMappings, attr.GidMappings = m.ranges(0), m.ranges(1)
	attr.GidMappingsEnableSetgroups = m.kind == mapRoot
	if m.kind == mapRoot {
		// The child keeps root's host ids, which this mapping lacks, until
		// it takes inside 0: only then is it root inside.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	}
}

// external reports whether the mapping must be written after the child
// started, by the setuid helpers.
func (m idMap) external() bool { return m.kind == mapSubID }

// write runs newuidmap and newgidmap on pid, which waits for them.
func (m idMap) write(pid int) error {
	for i, tool := range []string{"newuidmap", "newgidmap"} {
		args := []string{strconv.Itoa(pid)}
		for _, r := range m.ranges(i) {
			args = append(args, strconv.Itoa(r.ContainerID), strconv.Itoa(r.HostID), strconv.Itoa(r.Size))
		}
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s %s: %w: %s", ErrUnavailable, tool, strings.Join(args, " "),
				err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// rootHost returns the host uid and gid of root inside.
func (m idMap) rootHost() (uid, gid int) {
	return m.ranges(0)[0].HostID, m.ranges(1)[0].HostID
}

// mapped reports whether the host id (i = 0 for a uid, 1 for a gid) has an
// inside id.
func (m idMap) mapped(i, hostID int) bool {
	for _, r := range m.ranges(i) {
		if hostID >= r.HostID && hostID < r.HostID+r.Size {
			return true
		}
	}
	return false
}
