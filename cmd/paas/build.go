package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/builtin"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/detect"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/rootfs"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
	"github.com/paas-dev/paas/trust"
)

// DefaultStack is the stack builds use without --stack.
const DefaultStack = "trixie"

type buildOptions struct {
	tag, stack, envFile, push, network, sandboxMode, compression string
	memory                                                       string
	pids                                                         int
	buildpacks, env, outputs, caCerts                            []string
	noCache, pull, json, quiet                                   bool
	timeout                                                      time.Duration
}

func buildCommand() command {
	c := command{
		name:    "build",
		summary: "Build an app directory into an OCI image with buildpacks",
		usage:   "build [DIR] [flags]",
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		var o buildOptions
		fs := newFlags(c, env.stderr)
		fs.StringVarP(&o.tag, "tag", "t", "", "image name[:tag] (default: the directory's name, :latest)")
		fs.StringVar(&o.stack, "stack", "", "stack name in the store, or oci:DIR, oci-archive:FILE, docker-archive:FILE (default "+DefaultStack+", or $PAAS_STACK)")
		fs.StringArrayVarP(&o.buildpacks, "buildpack", "b", nil, "buildpack reference (dir, .tgz, URL, git URL#ref); repeat for several, run in order")
		fs.StringArrayVarP(&o.env, "env", "e", nil, "config var K=V given to buildpacks in ENV_DIR; repeatable")
		fs.StringVar(&o.envFile, "env-file", "", "file of KEY=value config vars")
		fs.StringArrayVarP(&o.outputs, "output", "o", nil, "also write the image to oci:DIR, oci-archive:FILE or docker-archive:FILE; repeatable")
		fs.StringVar(&o.push, "push", "", "push the image to a registry reference")
		fs.StringArrayVar(&o.caCerts, "ca-cert", nil, "PEM file of certificate authorities the buildpacks trust besides the host's; repeatable")
		fs.BoolVar(&o.noCache, "no-cache", false, "start with an empty build cache")
		fs.IntVar(&o.pids, "pids-limit", DefaultPidsLimit, "most processes a buildpack may run at once (0: no limit)")
		fs.StringVar(&o.memory, "memory", "", "most memory a buildpack may use, e.g. 4g (default: no limit)")
		fs.DurationVar(&o.timeout, "timeout", lifecycle.DefaultTimeout, "stop the build when detect, compile and release take longer (0: no limit)")
		fs.BoolVar(&o.pull, "pull", false, "re-fetch remote buildpacks that are not pinned to a commit")
		fs.StringVar(&o.network, "network", "host", "network of the buildpacks: host or none")
		fs.StringVar(&o.sandboxMode, "sandbox", "auto", "auto (namespaces) or none (run buildpacks on the current root filesystem)")
		fs.StringVar(&o.compression, "compression", "gzip", "layer compression: gzip or zstd")
		fs.BoolVar(&o.json, "json", false, "print one JSON object describing the image on stdout")
		fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only warnings and errors")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		dir := "."
		switch fs.NArg() {
		case 0:
		case 1:
			dir = fs.Arg(0)
		default:
			return usageError{"paas build takes at most one directory"}
		}
		if err := o.validate(); err != nil {
			return err
		}
		return runBuild(ctx, env, dir, o)
	}
	return c
}

func (o *buildOptions) validate() error {
	if o.pids < 0 {
		return usageError{fmt.Sprintf("--pids-limit %d: want a positive number, or 0 for no limit", o.pids)}
	}
	if _, err := parseSize(o.memory); err != nil {
		return usageError{fmt.Sprintf("--memory %q: %v", o.memory, err)}
	}
	if o.timeout < 0 {
		return usageError{fmt.Sprintf("--timeout %s: want a positive duration, or 0 for no limit", o.timeout)}
	}
	if o.network != "host" && o.network != "none" {
		return usageError{fmt.Sprintf("--network %q: want host or none", o.network)}
	}
	if o.sandboxMode != "auto" && o.sandboxMode != "none" {
		return usageError{fmt.Sprintf("--sandbox %q: want auto or none", o.sandboxMode)}
	}
	if o.compression != string(layers.Gzip) && o.compression != string(layers.Zstd) {
		return usageError{fmt.Sprintf("--compression %q: want gzip or zstd", o.compression)}
	}
	for _, d := range o.outputs {
		if _, _, err := oci.ParseDest(d); err != nil {
			return usageError{err.Error()}
		}
	}
	return nil
}

// buildReport is the --json output.
type buildReport struct {
	Image      string                    `json:"image"`
	Digest     string                    `json:"digest"`
	Stack      lifecycle.StackLabel      `json:"stack"`
	Buildpacks []lifecycle.UsedBuildpack `json:"buildpacks"`
	Processes  map[string]string         `json:"processes"`
	Layers     []lifecycle.LayerInfo     `json:"layers"`
	Durations  map[string]float64        `json:"durations"`
	Outputs    []string                  `json:"outputs,omitempty"`
	Pushed     string                    `json:"pushed,omitempty"`
}

func runBuild(ctx context.Context, env *cliEnv, dir string, o buildOptions) error {
	start := time.Now()
	con := console.New(env.stderr, o.quiet)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", lifecycle.ErrApp, err)
	}
	tag, err := imageTag(o.tag, abs)
	if err != nil {
		return err
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	stack, err := resolveStack(ctx, con, store, o.stack, !(o.sandboxMode == "none"))
	if err != nil {
		return err
	}
	if err := lifecycle.CheckAppDir(abs); err != nil {
		return err
	}
	vars, err := configVars(abs, o)
	if err != nil {
		return err
	}
	cas, err := buildCAs(o.caCerts)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(tmpDir(store), "build-")
	if err != nil {
		return err
	}
	defer sandbox.RemoveAll(work)
	cache, unlock, err := buildCache(store, tag, o.noCache, con)
	if err != nil {
		return err
	}
	defer unlock()
	builtins, err := builtin.Extract(filepath.Join(store.Home(), "builtin"))
	if err != nil {
		return fmt.Errorf("extracting the builtin buildpacks: %w", err)
	}
	res, err := lifecycle.Build(ctx, lifecycle.Options{
		AppDir:            abs,
		Stack:             lifecycle.Stack{Name: stack.name, Rootfs: stack.rootfs, Env: stack.env},
		Buildpacks:        o.buildpacks,
		DefaultBuildpacks: defaultBuildpacks(),
		Builtins:          builtins,
		Env:               vars,
		CacheDir:          cache,
		BuildpackCache:    filepath.Join(store.Home(), "buildpacks"),
		Pull:              o.pull,
		WorkDir:           work,
		NoSandbox:         o.sandboxMode == "none",
		Network:           sandbox.Network(o.network),
		Exclude:           insideApp(abs, o.envFile),
		CAs:               cas,
		Timeout:           buildTimeout(o.timeout),
		Limits:            buildLimits(con, o),
		Proxy:             lifecycle.ProxyEnv(os.Environ()),
		Console:           con,
	})
	if err != nil {
		return err
	}
	report := buildReport{Image: tag, Buildpacks: res.Buildpacks, Processes: res.Processes, Durations: map[string]float64{}}
	for _, d := range res.Durations {
		report.Durations[d.Phase] = round(d.Seconds)
	}
	exportStart := time.Now()
	con.Step("Exporting image %s", tag)
	img, infos, err := lifecycle.Export(res, lifecycle.ExportOptions{
		Base:        stack.run,
		Stack:       lifecycle.StackLabel{Name: stack.name, Digest: stack.digest.String()},
		RunName:     stack.runName,
		Epoch:       layers.SourceDateEpoch(),
		Compression: layers.Compression(o.compression),
		TempDir:     work,
		Warn:        con.Warner(),
	})
	if err != nil {
		return err
	}
	digest, err := store.Put(ctx, oci.KindImage, tag, img)
	if err != nil {
		return fmt.Errorf("%w: storing %s: %w", lifecycle.ErrExport, tag, err)
	}
	report.Digest, report.Layers = digest.String(), infos
	runDigest, _ := stack.run.Digest()
	report.Stack = lifecycle.StackLabel{Name: stack.name, Digest: stack.digest.String(), RunImage: stack.runName, RunDigest: runDigest.String()}
	for _, l := range infos {
		con.Info("%s  %-9s %s", shortDigest(l.Digest), console.Size(l.Size), l.Holds)
	}
	report.Durations["export"] = round(time.Since(exportStart).Seconds())
	if err := writeOutputs(ctx, con, img, tag, o, &report); err != nil {
		return err
	}
	report.Durations["total"] = round(time.Since(start).Seconds())
	con.Step("Built %s (%s) in %s", tag, digest, console.Duration(time.Since(start)))
	if o.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return nil
}

func writeOutputs(ctx context.Context, con *console.Console, img v1.Image, tag string, o buildOptions, report *buildReport) error {
	for _, dest := range o.outputs {
		if err := oci.Write(ctx, img, dest, tag); err != nil {
			return fmt.Errorf("%w: writing %s: %w", errOutput, dest, err)
		}
		con.Info("Wrote %s", dest)
		report.Outputs = append(report.Outputs, dest)
	}
	if o.push != "" {
		con.Step("Pushing %s", o.push)
		if err := oci.Push(ctx, img, o.push, con.Writer()); err != nil {
			return fmt.Errorf("%w: pushing %s: %w", errOutput, o.push, err)
		}
		report.Pushed = o.push
	}
	return nil
}

func round(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

var (
	invalidNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)
	separatorRuns    = regexp.MustCompile(`[._-]{2,}`)
)

// imageTag returns the normalised image name: the --tag, else the app
// directory's base name made a valid repository name.
func imageTag(flag, appDir string) (string, error) {
	name := flag
	if name == "" {
		name = invalidNameChars.ReplaceAllString(strings.ToLower(filepath.Base(appDir)), "-")
		name = strings.Trim(separatorRuns.ReplaceAllString(name, "-"), "-._")
		if name == "" {
			name = "app"
		}
	}
	tag, err := oci.NormalizeName(name)
	if err != nil {
		return "", usageError{fmt.Sprintf("--tag %q: %v", name, err)}
	}
	return tag, nil
}

// configVars merges, later winning: the app's .env, --env-file, --env.
func configVars(appDir string, o buildOptions) (map[string]string, error) {
	vars := map[string]string{}
	m, err := detect.ReadAppEnv(appDir)
	switch {
	case err == nil:
		merge(vars, m)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %v", lifecycle.ErrApp, err)
	}
	if o.envFile != "" {
		m, err := detect.ReadEnvFile(o.envFile)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env-file: %v", err)}
		}
		merge(vars, m)
	}
	for _, kv := range o.env {
		k, v, err := detect.ParseEnv(kv)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--env %q: %v", kv, err)}
		}
		vars[k] = v
	}
	return vars, nil
}

// DefaultPidsLimit is --pids-limit's default: far more than any build
// runs, far fewer than a fork bomb makes.
const DefaultPidsLimit = 4096

// buildLimits returns the scripts' limits, saying once when the host
// cannot enforce them fully.
func buildLimits(con *console.Console, o buildOptions) sandbox.Limits {
	mem, _ := parseSize(o.memory)
	l := sandbox.Limits{Pids: o.pids, Memory: mem}
	if o.sandboxMode == "none" || (l.Pids == 0 && l.Memory == 0) {
		return l
	}
	if err := sandbox.CgroupsAvailable(); err != nil {
		con.Info("Note: %v here (run as root, or with a delegated cgroup v2); processes are limited per user, memory is not", err)
	}
	return l
}

// parseSize reads a byte count such as 512m or 4g (binary units); "" is 0.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := map[byte]int64{'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}
	mult := int64(1)
	if u, ok := units[strings.ToLower(s)[len(s)-1]]; ok {
		mult, s = u, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive size such as 512m or 4g")
	}
	return n * mult, nil
}

// buildTimeout maps --timeout to lifecycle's: 0 means no limit there.
func buildTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// insideApp returns file's path relative to appDir when the file is inside
// the app, so that it can be left out of the image.
func insideApp(appDir, file string) []string {
	if file == "" {
		return nil
	}
	abs, err1 := filepath.Abs(file)
	real, err2 := filepath.EvalSymlinks(appDir)
	if err1 != nil || err2 != nil {
		return nil
	}
	if f, err := filepath.EvalSymlinks(abs); err == nil {
		abs = f
	}
	rel, err := filepath.Rel(real, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}

// buildCAs returns the certificate authorities builds trust: the host's,
// plus the --ca-cert files.
func buildCAs(files []string) (*trust.Pool, error) {
	cas, err := trust.Host()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := cas.AddFile(f); err != nil {
			return nil, usageError{fmt.Sprintf("--ca-cert: %v", err)}
		}
	}
	return cas, nil
}

func merge(dst, src map[string]string) {
	for k, v := range src {
		dst[k] = v
	}
}

// defaultBuildpacks are tried in order when nothing names a buildpack:
// $PAAS_BUILDPACKS (separated by commas or white space); when it is unset,
// lifecycle detects with the builtin buildpacks.
func defaultBuildpacks() []string {
	return strings.FieldsFunc(os.Getenv("PAAS_BUILDPACKS"), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\n' || r == '\t'
	})
}

func tmpDir(store *oci.Store) string {
	dir := filepath.Join(store.Home(), "tmp")
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// buildCache returns the app's persistent CACHE_DIR, locked for this build:
// two builds of one app at once take turns rather than corrupt it.
func buildCache(store *oci.Store, tag string, empty bool, con *console.Console) (string, func(), error) {
	repo := tag[:strings.LastIndex(tag, ":")]
	dir := filepath.Join(store.Home(), "cache", storeKey(repo))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating build cache: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", nil, err
	}
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		con.Info("Waiting for another build of %s to release the build cache", repo)
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			lock.Close()
			return "", nil, err
		}
	}
	if empty {
		if err := sandbox.RemoveAll(dir); err != nil {
			lock.Close()
			return "", nil, fmt.Errorf("emptying build cache: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			lock.Close()
			return "", nil, err
		}
	}
	return dir, func() { lock.Close() }, nil
}

// resolvedStack is the stack a build runs on: buildpacks run on the build
// image, and the app is placed on the run image (the build image itself
// when the stack has no separate run image).
type resolvedStack struct {
	name    string
	image   v1.Image // the build image, with OCI media types
	digest  v1.Hash
	run     v1.Image // with OCI media types
	runName string
	rootfs  string
	env     []string
}

func resolveStack(ctx context.Context, con *console.Console, store *oci.Store, ref string, needRootfs bool) (*resolvedStack, error) {
	if ref == "" {
		ref = os.Getenv("PAAS_STACK")
	}
	if ref == "" {
		ref = DefaultStack
		if err := ensureDefaultStack(ctx, con, store); err != nil {
			return nil, err
		}
	}
	img, name, err := loadStack(store, ref)
	if err != nil {
		return nil, err
	}
	s := &resolvedStack{name: name}
	if s.image, err = oci.OCI(img); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %v", errStack, ref, err)
	}
	if s.digest, err = s.image.Digest(); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %v", errStack, ref, err)
	}
	if s.run, s.runName, err = runImage(store, ref, name, s.image); err != nil {
		return nil, err
	}
	if s.env, err = stacks.Env(img); err != nil {
		return nil, fmt.Errorf("%w: stack %s: %v", errStack, ref, err)
	}
	if needRootfs {
		if s.rootfs, err = unpackStack(ctx, store.Home(), img); err != nil {
			return nil, fmt.Errorf("%w: unpacking stack %s: %w", errStack, ref, err)
		}
	}
	return s, nil
}

// unpackStack returns the directory of the stack's root filesystem in the
// paas home's rootfs cache, which the sandbox runtime shares.
func unpackStack(ctx context.Context, home string, img v1.Image) (string, error) {
	c, err := rootfsCache(home)
	if err != nil {
		return "", err
	}
	return c.Get(ctx, img)
}

// rootfsCache opens the cache of unpacked root filesystems in the paas home.
func rootfsCache(home string) (*rootfs.Cache, error) {
	return rootfs.Open(filepath.Join(home, "rootfs"))
}

// runImage returns the stack's run image, stored as NAME/run, or the
// build image when there is none (and for stacks given as paths).
func runImage(store *oci.Store, ref, name string, build v1.Image) (v1.Image, string, error) {
	if !isTransport(ref) {
		run, _, err := store.Image(oci.KindStack, runImageName(ref))
		if err == nil {
			img, err := oci.OCI(run)
			if err != nil {
				return nil, "", fmt.Errorf("%w: run image of %s: %v", errStack, ref, err)
			}
			return img, runImageName(name), nil
		}
		if !errors.Is(err, oci.ErrNotFound) {
			return nil, "", err
		}
	}
	return build, name, nil
}

// ensureDefaultStack creates the default stack the first time a build
// needs it, so `paas build` works on a fresh machine with no set-up.
func ensureDefaultStack(ctx context.Context, con *console.Console, store *oci.Store) error {
	if _, _, err := store.Image(oci.KindStack, DefaultStack); !errors.Is(err, oci.ErrNotFound) {
		return err
	}
	con.Step("The default stack %s is not in the store yet: creating it once (later builds reuse it)", DefaultStack)
	return createStack(ctx, con, store, stackSpec{
		name: DefaultStack, suite: stacks.DefaultSuite,
		build: DefaultBuildPackages, run: DefaultRunPackages,
	})
}

func loadStack(store *oci.Store, ref string) (v1.Image, string, error) {
	if isTransport(ref) {
		img, err := oci.Load(ref)
		if err != nil {
			return nil, "", fmt.Errorf("%w: loading stack %s: %v", errStack, ref, err)
		}
		return img, stackNameOf(img, ref), nil
	}
	img, _, err := store.Image(oci.KindStack, ref)
	if err != nil {
		return nil, "", fmt.Errorf("%w: stack %q is not in the store (%s); create it with `paas stack create %s` or import one with `paas stack import %s SOURCE`",
			errStack, ref, store.Home(), ref, ref)
	}
	return img, ref, nil
}

func isTransport(ref string) bool {
	for _, p := range []string{"oci:", "oci-archive:", "docker-archive:"} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// stackNameOf names a stack given as a path: its io.paas.stack.name label,
// else the file or directory name.
func stackNameOf(img v1.Image, ref string) string {
	if cf, err := img.ConfigFile(); err == nil {
		if n := cf.Config.Labels["io.paas.stack.name"]; n != "" {
			return n
		}
	}
	_, path, _ := strings.Cut(ref, ":")
	base := filepath.Base(strings.TrimSuffix(path, "/"))
	return strings.TrimSuffix(strings.TrimSuffix(base, ".tar"), ".tar.gz")
}
