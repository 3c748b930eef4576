package stacks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/oci"
)

// DefaultSuite is the Debian release a stack is made from when none is
// given: the current stable release.
const DefaultSuite = "trixie"

// ErrNoMmdebstrap is returned by Create when mmdebstrap is not installed.
var ErrNoMmdebstrap = errors.New("mmdebstrap not found: install it with `apt-get install mmdebstrap`")

// dpkgExcludes keeps documentation, manual pages and translations out of the
// stack, which roughly halves a minbase rootfs. Copyright files stay so the
// image still carries its licences, and locale.alias stays because libc
// reads it. The options also land in /etc/dpkg/dpkg.cfg.d, so packages a
// buildpack installs later are trimmed the same way.
var dpkgExcludes = []string{
	"path-exclude=/usr/share/doc/*",
	"path-include=/usr/share/doc/*/copyright",
	"path-exclude=/usr/share/man/*",
	"path-exclude=/usr/share/info/*",
	"path-exclude=/usr/share/locale/*",
	"path-include=/usr/share/locale/locale.alias",
}

// stderrTail is how many of mmdebstrap's last output lines a failure reports.
const stderrTail = 20

// mmdebstrapGrace is how long mmdebstrap may take to clean up after being
// told to stop, or its children to close its output after it exits.
const mmdebstrapGrace = 10 * time.Second

// minCreateSpace is the least free space Create starts with. A minbase
// rootfs tarball and its layer alone take more, and mmdebstrap writes the
// tarball last: with less, it would download and install packages for
// minutes, then fail.
const minCreateSpace = 128 << 20

// checkSpace fails fast, as a full disk (ENOSPC), when dir's file system
// has less than minCreateSpace free.
func checkSpace(dir string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil //nolint:nilerr // the check is advisory: mmdebstrap will say what is wrong with dir
	}
	if free := int64(st.Bavail) * st.Bsize; free < minCreateSpace {
		return fmt.Errorf("%s has %s free, a stack needs more than %s: free some space there, or set PAAS_HOME to a larger disk: %w",
			dir, console.Size(free), console.Size(minCreateSpace), syscall.ENOSPC)
	}
	return nil
}

// CreateOptions describes a stack to make with Create.
type CreateOptions struct {
	Name     string    // the stack's name, recorded in the io.paas.stack.name label
	Suite    string    // the Debian release; DefaultSuite when empty
	Packages []string  // installed on top of the minbase variant
	Mirror   string    // a Debian mirror URL; mmdebstrap's default when empty
	Progress io.Writer // receives human progress lines; may be nil
	TempDir  string    // holds the tarball and the layer blob, which must outlive the image; os.TempDir() when empty
}

// MmdebstrapError is returned when mmdebstrap fails; Output holds its last
// lines, which say why.
type MmdebstrapError struct {
	Err    error
	Output []string
}

func (e *MmdebstrapError) Error() string {
	return fmt.Sprintf("mmdebstrap: %v\n%s", e.Err, strings.Join(e.Output, "\n"))
}

// Unwrap returns the cause, and syscall.ENOSPC too when mmdebstrap said
// it ran out of space (writing the tarball, or in its own TMPDIR), so that
// a full disk is told apart from a failed installation. It goes by the
// English text of the error, which is what mmdebstrap prints unless the
// locale translates it.
func (e *MmdebstrapError) Unwrap() []error {
	for _, line := range e.Output {
		if strings.Contains(strings.ToLower(line), syscall.ENOSPC.Error()) {
			return []error{e.Err, syscall.ENOSPC}
		}
	}
	return []error{e.Err}
}

// Create makes a one-layer OCI stack image: a Debian minbase root filesystem
// built by mmdebstrap in unshare mode (which needs no root), with
// opts.Packages installed. File times come from SOURCE_DATE_EPOCH (default
// 1980-01-01T00:00:01Z), so the same package versions give the same bytes.
// A full disk fails it with an error that matches syscall.ENOSPC: at once
// when opts.TempDir has too little space to start.
func Create(ctx context.Context, opts CreateOptions) (v1.Image, error) {
	if opts.Suite == "" {
		opts.Suite = DefaultSuite
	}
	if err := validatePackages(opts.Packages); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("mmdebstrap")
	if err != nil {
		return nil, ErrNoMmdebstrap
	}
	if err := checkSpace(opts.TempDir); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(opts.TempDir, "mmdebstrap-*")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)
	p := newProgress(opts.Progress)
	img, err := create(ctx, bin, opts, filepath.Join(work, "rootfs.tar"), p)
	if err != nil {
		return nil, fmt.Errorf("creating stack %q (%s): %w", opts.Name, opts.Suite, err)
	}
	return img, nil
}

func create(ctx context.Context, bin string, opts CreateOptions, tarPath string, p *progress) (v1.Image, error) {
	if err := runMmdebstrap(ctx, bin, mmdebstrapArgs(opts, tarPath), p); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(tarPath); err == nil {
		p.linef("rootfs tarball %s", console.Size(fi.Size()))
	}
	p.linef("compressing layer")
	img, err := fromTarball(tarPath, opts.TempDir, stackLabels(opts), createdBy(opts))
	if err != nil {
		return nil, err
	}
	return img, p.layerDone(img)
}

func validatePackages(pkgs []string) error {
	for _, pkg := range pkgs {
		if pkg == "" || strings.ContainsAny(pkg, ", \t\n") {
			return fmt.Errorf("invalid package name %q", pkg)
		}
	}
	return nil
}

func mmdebstrapArgs(opts CreateOptions, tarPath string) []string {
	args := []string{"--mode=unshare", "--variant=minbase", "--format=tar"}
	if len(opts.Packages) > 0 {
		args = append(args, "--include="+strings.Join(opts.Packages, ","))
	}
	for _, o := range dpkgExcludes {
		args = append(args, "--dpkgopt="+o)
	}
	args = append(args, opts.Suite, tarPath)
	if opts.Mirror != "" {
		args = append(args, opts.Mirror)
	}
	return args
}

func stackLabels(opts CreateOptions) map[string]string {
	return map[string]string{
		oci.LabelStackName:     opts.Name,
		oci.LabelStackSuite:    opts.Suite,
		oci.LabelStackPackages: strings.Join(opts.Packages, ","),
	}
}

// createdBy is the image history entry. It leaves out the mirror, which
// differs between machines without changing the result.
func createdBy(opts CreateOptions) string {
	s := "mmdebstrap --variant=minbase"
	if len(opts.Packages) > 0 {
		s += " --include=" + strings.Join(opts.Packages, ",")
	}
	return s + " " + opts.Suite
}

// runMmdebstrap runs mmdebstrap, streaming its output lines to p. It runs
// in its own process group so that cancelling stops its helpers too.
func runMmdebstrap(ctx context.Context, bin string, args []string, p *progress) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	if os.Getenv("SOURCE_DATE_EPOCH") == "" {
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(sourceDateEpoch(), 10))
	}
	cmd.Stdout, cmd.Stderr = p, p
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = mmdebstrapGrace
	err := cmd.Run()
	p.flush()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &MmdebstrapError{Err: err, Output: p.tail()}
	}
	return nil
}
