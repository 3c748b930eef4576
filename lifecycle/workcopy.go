package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/procfile"
	"github.com/paas-dev/paas/sandbox"
)

// workCopy is the app's working copy, BUILD_DIR: what the sandbox mounts at
// /app, and how the host reads it back once the buildpacks are done.
//
// Where it can, it is no copy at all but an overlay (sandbox.Mount with
// Upper): the source directory is its read-only lower layer, and dir, the
// upper layer, starts with a whiteout for each path the working copy leaves
// out, so buildpacks never see them, and receives whatever buildpacks
// change. Otherwise dir is a copy of the source, by reflinks where the
// filesystem has them, else byte for byte.
type workCopy struct {
	source  string // the app directory, only ever read
	dir     string // the copy, or the overlay's upper directory
	overlay bool
	how     string // what the build output says about it
	view    *sandbox.Overlay
}

// mount is how the sandbox shows the working copy at BuildDir.
func (w *workCopy) mount() sandbox.Mount {
	if w.overlay {
		return sandbox.Mount{Source: w.source, Target: BuildDir, Upper: w.dir}
	}
	return sandbox.Mount{Source: w.dir, Target: BuildDir}
}

// finish returns the compiled tree for the host to read, once no buildpack
// runs any more: the copy itself, or the overlay's merged tree, which stays
// open until close.
func (w *workCopy) finish() (string, error) {
	if !w.overlay {
		return w.dir, nil
	}
	if w.view == nil {
		view, err := sandbox.OpenOverlay(w.mount())
		if err != nil {
			return "", fmt.Errorf("reading the compiled app: %w", err)
		}
		w.view = view
	}
	return w.view.Dir(), nil
}

func (w *workCopy) close() error {
	if w.view == nil {
		return nil
	}
	err := w.view.Close()
	w.view = nil
	return err
}

// readProcfile reads the working copy's Procfile before the buildpacks are
// done, as readProcfile does: for an overlay, the upper layer's (a
// whiteout there hides the source's), else the source's.
func (w *workCopy) readProcfile() (procfile.Processes, error) {
	if !w.overlay {
		return readProcfile(w.dir)
	}
	var st unix.Stat_t
	err := unix.Lstat(filepath.Join(w.dir, "Procfile"), &st)
	switch {
	case err == nil && isWhiteout(&st):
		return nil, fs.ErrNotExist
	case err == nil:
		return readProcfile(w.dir)
	case errors.Is(err, unix.ENOENT):
		return readProcfile(w.source)
	}
	return nil, err
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// makeWorkCopy makes the working copy of src in dir (which must not
// exist): an overlay when tryOverlay and the source allows it, else a copy.
// why says why an overlay was not tried.
func makeWorkCopy(src, dir string, skip func(string, bool) bool, tryOverlay bool, why string, warn func(string)) (*workCopy, error) {
	if tryOverlay {
		w, reason, err := overlayWorkCopy(src, dir, skip, warn)
		if err != nil || reason == "" {
			return w, err
		}
		why = reason
		if err := fsutil.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return copyWorkCopy(src, dir, skip, why, warn)
}

// copyInstead replaces the overlay working copy that the sandbox refused
// (refused) with a copy, and makes the sandbox again.
func (b *build) copyInstead(ctx context.Context, mounts []sandbox.Mount, skip func(string, bool) bool, refused error, warn func(string)) (sandbox.Sandbox, error) {
	dir := b.app.dir
	if err := sandbox.RemoveAll(dir); err != nil {
		return nil, err
	}
	app, err := copyWorkCopy(b.opts.AppDir, dir, skip, refused.Error(), warn)
	if err != nil {
		return nil, fmt.Errorf("%w: copying the app: %w", ErrApp, err)
	}
	b.app, b.result.app = app, app
	if err := b.own(dir); err != nil {
		return nil, err
	}
	mounts[0] = app.mount()
	return b.newSandbox(ctx, mounts)
}

// warnOnce passes each distinct message to warn once.
func warnOnce(warn func(string)) func(string) {
	seen := map[string]bool{}
	return func(msg string) {
		if !seen[msg] {
			seen[msg] = true
			warn(msg)
		}
	}
}

// copyWorkCopy copies src into dir, saying how and why.
func copyWorkCopy(src, dir string, skip func(string, bool) bool, why string, warn func(string)) (*workCopy, error) {
	start := time.Now()
	var n copyStats
	if err := copyTree(src, dir, skip, warn, &n); err != nil {
		return nil, err
	}
	how := fmt.Sprintf("copied %s (%d files) in %s", console.Size(n.bytes), n.files, console.Duration(time.Since(start)))
	if n.cloned == n.files && n.files > 0 {
		how = fmt.Sprintf("reflinked %d files in %s, sharing their blocks with the source", n.files, console.Duration(time.Since(start)))
	}
	return &workCopy{source: src, dir: dir, how: fmt.Sprintf("%s (no overlay: %s)", how, why)}, nil
}

// overlayWorkCopy prepares dir as the upper layer of an overlay of src that
// shows what copyTree would have copied. It gives a reason, and no
// workCopy, when src holds what an overlay cannot show as a copy would: a
// mount point (overlayfs does not cross mounts in a layer), a file whose
// owners the sandbox does not map (it could not be changed inside), or one
// that the caller cannot read (the copy would fail on it; the host reads
// the result as the caller); or when dir cannot be an upper layer.
func overlayWorkCopy(src, dir string, skip func(string, bool) bool, warn func(string)) (*workCopy, string, error) {
	if inside(src, dir) {
		// The overlay would show its own upper layer.
		return nil, "the work directory is inside the app", nil
	}
	p := overlayPrep{src: src, upper: dir, mapped: sandbox.MappedOwners(), root: os.Geteuid() == 0, uid: os.Geteuid()}
	reason, err := p.scan(skip, warn)
	if err != nil || reason != "" {
		return nil, reason, err
	}
	if err := p.fill(); err != nil {
		// Whiteouts need Linux 5.8 to be made without privileges.
		return nil, fmt.Sprintf("preparing its upper layer: %v", err), nil
	}
	w := &workCopy{source: src, dir: dir, overlay: true, how: "an overlay of the source directory: nothing copied"}
	return w, "", nil
}

// inside reports whether path lies in dir, once links are resolved.
func inside(dir, path string) bool {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	if p, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		path = filepath.Join(p, filepath.Base(path))
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// overlayPrep is what an overlay's upper layer needs before the first
// mount: whiteouts for what the working copy leaves out, and directories
// whose mode differs from the source's (copyTree makes every directory
// owner-writable and drops set-ID and sticky bits from them).
type overlayPrep struct {
	src, upper string
	mapped     func(uid, gid int) bool
	root       bool // the caller reads every file
	uid        int  // the caller's effective uid
	hide       []string
	dirs       []string // in walk order: parents first
	made       []string // the upper directories fill made, parents first
}

// scan walks the source, noting what fill must do, or why an overlay
// cannot stand in for a copy.
func (p *overlayPrep) scan(skip func(string, bool) bool, warn func(string)) (string, error) {
	var top syscall.Stat_t
	if err := syscall.Stat(p.src, &top); err != nil {
		return "", err
	}
	reason := ""
	err := filepath.WalkDir(p.src, func(abs string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(p.src, abs)
		rel = filepath.ToSlash(rel)
		if err != nil {
			reason = fmt.Sprintf("reading %s: %v", rel, err)
			return filepath.SkipAll
		}
		if rel == "." {
			return nil
		}
		if skip(rel, d.IsDir()) {
			p.hide = append(p.hide, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			reason = fmt.Sprintf("reading %s: %v", rel, err)
			return filepath.SkipAll
		}
		st := info.Sys().(*syscall.Stat_t)
		if reason = p.check(abs, rel, info, st, top.Dev); reason != "" {
			return filepath.SkipAll
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if mode.Perm()|0o700 != mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
				p.dirs = append(p.dirs, rel)
			}
		case mode.IsRegular(), mode&fs.ModeSymlink != 0:
		default:
			if warn != nil {
				warn(fmt.Sprintf("skipping %s %s: it cannot be part of an image", fsutil.KindOf(mode), rel))
			}
			p.hide = append(p.hide, rel)
		}
		return nil
	})
	return reason, err
}

// check says why the entry rel rules an overlay out, or "".
func (p *overlayPrep) check(abs, rel string, info fs.FileInfo, st *syscall.Stat_t, dev uint64) string {
	switch {
	case st.Dev != dev:
		return rel + " is on another filesystem (a mount point)"
	case !p.mapped(int(st.Uid), int(st.Gid)):
		return fmt.Sprintf("%s belongs to %d:%d, ids the sandbox does not map", rel, st.Uid, st.Gid)
	case p.root || info.Mode()&fs.ModeSymlink != 0:
		return ""
	}
	want, bits := uint32(unix.R_OK), uint32(unix.S_IRUSR)
	if info.IsDir() {
		want, bits = want|unix.X_OK, bits|unix.S_IXUSR
	} else if !info.Mode().IsRegular() {
		return ""
	}
	// The caller's own files (nearly all) need no system call: their
	// owner bits decide.
	if int(st.Uid) == p.uid && st.Mode&bits == bits {
		return ""
	}
	if err := unix.Faccessat(unix.AT_FDCWD, abs, want, unix.AT_EACCESS); err != nil {
		return fmt.Sprintf("cannot read %s: %v", rel, err)
	}
	return ""
}

// fill makes the upper layer: its root and the directories scan noted, with
// the modes a copy would have, then the whiteouts, each in a directory that
// mirrors the source's.
func (p *overlayPrep) fill() error {
	if err := p.mkdir("."); err != nil {
		return err
	}
	for _, rel := range p.dirs {
		if err := p.mkdirAll(rel); err != nil {
			return err
		}
	}
	for _, rel := range p.hide {
		if err := p.mkdirAll(path.Dir(rel)); err != nil {
			return err
		}
		// A whiteout: the one device node the kernel lets anyone make.
		target := filepath.Join(p.upper, filepath.FromSlash(rel))
		if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("hiding %s: %w", rel, err)
		}
	}
	// In the merged tree a directory's times are the upper one's: the
	// source's, set once nothing more is made in it.
	for i := len(p.made) - 1; i >= 0; i-- {
		rel := p.made[i]
		info, err := os.Stat(filepath.Join(p.src, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		if err := os.Chtimes(filepath.Join(p.upper, filepath.FromSlash(rel)), info.ModTime(), info.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

// mkdirAll makes the upper directory rel and its missing parents.
func (p *overlayPrep) mkdirAll(rel string) error {
	if _, err := os.Lstat(filepath.Join(p.upper, filepath.FromSlash(rel))); err == nil {
		return nil
	}
	if rel != "." {
		if err := p.mkdirAll(path.Dir(rel)); err != nil {
			return err
		}
	}
	return p.mkdir(rel)
}

// mkdir makes the upper directory rel with the permissions copyTree gives
// the copy of the source's: in the merged tree they are the upper one's.
func (p *overlayPrep) mkdir(rel string) error {
	info, err := os.Stat(filepath.Join(p.src, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	dst := filepath.Join(p.upper, filepath.FromSlash(rel))
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	p.made = append(p.made, rel)
	return os.Chmod(dst, info.Mode().Perm()|0o700)
}
