package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// parseUser returns the ids of an image's User: "uid" or "uid:gid", as
// paas's images give it; empty is root. A uid alone gets gid 0, as in
// containerd for a uid missing from /etc/passwd.
func parseUser(user string) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, err = parseID(u); err != nil {
		return 0, 0, fmt.Errorf("image user %q: %w", user, err)
	}
	if !hasGroup {
		return uid, 0, nil
	}
	if gid, err = parseID(g); err != nil {
		return 0, 0, fmt.Errorf("image user %q: %w", user, err)
	}
	return uid, gid, nil
}

func parseID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, errors.New("the sandbox runtime needs numeric ids (uid:gid)")
	}
	return id, nil
}

// checkCommand makes a missing command fail Start, as it does in
// containerd, rather than the process: it looks args[0] up in rootfs,
// relative to dir or, for a bare name, in the directories of pathList.
// Where the lookup cannot tell (a symlink that leaves the rootfs, say) it
// lets the sandbox try.
func checkCommand(rootfs, dir string, args []string, pathList string) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("opening rootfs: %w", err)
	}
	defer root.Close()
	for _, c := range candidates(args[0], dir, pathList) {
		fi, err := root.Stat(c)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("command %s: executable not found in the image", args[0])
}

// candidates returns the rootfs-relative paths where name may be.
func candidates(name, dir, pathList string) []string {
	if strings.Contains(name, "/") {
		return []string{rootRel(dir, name)}
	}
	var out []string
	for _, d := range strings.Split(pathList, ":") {
		out = append(out, rootRel(dir, path.Join(d, name)))
	}
	return out
}

// rootRel resolves p, relative to the working directory dir unless it is
// absolute, to a path relative to the rootfs's top.
func rootRel(dir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join("/", dir, p)
	}
	if p = strings.TrimPrefix(path.Clean(p), "/"); p == "" {
		return "."
	}
	return p
}
