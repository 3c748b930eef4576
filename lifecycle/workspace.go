package lifecycle

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/appfile"
	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/procfile"
	"github.com/paas-dev/paas/project"
)

// copyTree copies src into dst (which must not exist), keeping modes,
// symlinks (verbatim) and hard links, and skipping sockets, devices and
// fifos. skip decides, by slash-separated path relative to src, what to
// leave out; a skipped directory is not descended. Regular files are
// reflinked (FICLONE: the copy shares the source's blocks until either is
// written) where the filesystem can, else copied with io.Copy, which uses
// copy_file_range between files: no file is ever held in memory. stats,
// when not nil, counts what was copied.
func copyTree(src, dst string, skip func(rel string, isDir bool) bool, warn func(string), stats *copyStats) error {
	if stats == nil {
		stats = &copyStats{}
	}
	links := map[[2]uint64]string{}
	var dirs []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			dirs = append(dirs, target)
			// Owner-writable while filling; the real mode is set afterwards.
			return os.Mkdir(target, 0o700)
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case mode.IsRegular():
			return copyRegular(p, target, info, links, stats)
		default:
			if warn != nil {
				warn(fmt.Sprintf("skipping %s %s: it cannot be part of an image", fsutil.KindOf(mode), rel))
			}
			return nil
		}
	})
	if err != nil {
		return err
	}
	return restoreDirModes(src, dst, dirs)
}

// copyStats counts the regular files a copy made, how many of them are
// reflinks, and their bytes.
type copyStats struct {
	files, cloned int
	bytes         int64
	noClone       bool // a clone failed: the filesystem has no reflinks
}

func copyRegular(src, dst string, info fs.FileInfo, links map[[2]uint64]string, stats *copyStats) error {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, seen := links[key]; seen {
			return os.Link(first, dst)
		}
		links[key] = dst
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	stats.files++
	stats.bytes += info.Size()
	if err := copyData(out, in, stats); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

// copyData fills out with in's content: a reflink where the filesystem
// makes them (tried until one fails), else a copy.
func copyData(out, in *os.File, stats *copyStats) error {
	if !stats.noClone {
		err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
		if err == nil {
			stats.cloned++
			return nil
		}
		stats.noClone = true
	}
	_, err := io.Copy(out, in)
	return err
}

// restoreDirModes gives each copied directory its source's mode, deepest
// first, keeping it owner-writable: the copy is a working tree that the
// buildpacks and paas itself must be able to change and remove.
func restoreDirModes(src, dst string, dirs []string) error {
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		rel, _ := filepath.Rel(dst, d)
		info, err := os.Stat(filepath.Join(src, rel))
		if err != nil {
			return err
		}
		if err := os.Chmod(d, info.Mode().Perm()|0o700); err != nil {
			return err
		}
	}
	return nil
}

// slugIgnore matches the patterns of an app's .slugignore (Heroku's format):
// one pattern per line, blank and # lines ignored. A pattern with a slash
// (a leading one anchors it at the app root) matches the whole relative
// path; one without matches any file or directory of that name. Globs are
// path.Match's. A trailing slash matches directories only.
type slugIgnore []string

// readProcfile parses the app's Procfile, never following a link out of
// the app (a buildpack may have made it one); a missing Procfile matches
// fs.ErrNotExist.
func readProcfile(appDir string) (procfile.Processes, error) {
	f, err := appfile.Open(appDir, "Procfile")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return procfile.Parse(f)
}

func readSlugIgnore(appDir string) (slugIgnore, error) {
	f, err := appfile.Open(appDir, ".slugignore")
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .slugignore: %w", err)
	}
	defer f.Close()
	var patterns slugIgnore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		patterns = append(patterns, line)
	}
	return patterns, sc.Err()
}

// Match reports whether rel (slash-separated, relative to the app root) is
// left out of the app.
func (s slugIgnore) Match(rel string, isDir bool) bool {
	for _, p := range s {
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		if dirOnly && !isDir {
			continue
		}
		subject := path.Base(rel)
		if strings.Contains(p, "/") {
			p, subject = strings.TrimPrefix(p, "/"), rel
		}
		if ok, _ := path.Match(p, subject); ok {
			return true
		}
	}
	return false
}

// appFilter is what project.toml and .slugignore say of the app's files:
// patterns of files left out, and, from project.toml's include, the only
// files kept (none: all).
type appFilter struct {
	ignore, keep slugIgnore
}

// readAppFilter reads .slugignore and project.toml's exclude or include.
func readAppFilter(appDir string) (appFilter, error) {
	ignore, err := readSlugIgnore(appDir)
	if err != nil {
		return appFilter{}, err
	}
	d, err := project.Read(appDir)
	if errors.Is(err, fs.ErrNotExist) {
		return appFilter{ignore: ignore}, nil
	}
	if err != nil {
		return appFilter{}, err
	}
	return appFilter{ignore: append(ignore, d.Exclude...), keep: d.Include}, nil
}

// kept reports whether project.toml's include keeps the file rel: it or a
// directory it is in matches. Directories are kept, for what they hold.
func (f appFilter) kept(rel string, isDir bool) bool {
	if len(f.keep) == 0 || isDir {
		return true
	}
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if f.keep.Match(p, p != rel) {
			return true
		}
	}
	return false
}

// appSkip is what never enters the working copy: version-control metadata
// (it changes with every commit and would make digests differ), .env and
// the other exclude paths, and what the app filter leaves out.
func appSkip(filter appFilter, exclude []string) func(string, bool) bool {
	return func(rel string, isDir bool) bool {
		if rel == ".git" || path.Base(rel) == ".git" && isDir {
			return true
		}
		// Config vars are build-time settings: they never reach the image.
		if rel == ".env" || slices.Contains(exclude, rel) {
			return true
		}
		return filter.ignore.Match(rel, isDir) || !filter.kept(rel, isDir)
	}
}

// writeEnvDir writes one file per variable, Heroku's ENV_DIR format.
func writeEnvDir(dir string, env map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for k, v := range env {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			return fmt.Errorf("writing ENV_DIR: %w", err)
		}
	}
	return nil
}

// CheckAppDir fails with ErrApp, saying why, unless dir is a readable
// directory.
func CheckAppDir(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("%w: %s does not exist", ErrApp, dir)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrApp, err)
	case !info.IsDir():
		return fmt.Errorf("%w: %s is not a directory; give the app's directory", ErrApp, dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: cannot read %s: %w", ErrApp, dir, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && err != io.EOF {
		return fmt.Errorf("%w: cannot read %s: %w", ErrApp, dir, err)
	}
	return nil
}
