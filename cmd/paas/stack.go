package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/stacks"
)

func stackCommand() command {
	c := command{
		name:    "stack",
		summary: "Create, import, list and remove stacks (the base images buildpacks run on)",
		usage:   "stack create NAME [--suite SUITE] [--build-packages p1,p2] [--run-packages p1,p2] [--packages p1,p2] [--mirror URL] | stack import NAME SOURCE | stack pull NAME BUILD_REF [RUN_REF] | stack ls | stack rm NAME",
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		if len(args) == 0 {
			return usageError{"paas stack needs a subcommand: create, import, pull, ls or rm"}
		}
		switch args[0] {
		case "create":
			return stackCreate(ctx, env, c, args[1:])
		case "import":
			return stackImport(ctx, env, c, args[1:])
		case "pull":
			return stackPull(ctx, env, c, args[1:])
		case "ls", "list":
			return stackList(env, c, args[1:])
		case "rm", "remove":
			return stackRemove(env, c, args[1:])
		case "-h", "--help", "help":
			fmt.Fprintf(env.stdout, "Usage: paas %s\n", c.usage)
			return nil
		}
		return usageError{fmt.Sprintf("unknown stack subcommand %q: want create, import, pull, ls or rm", args[0])}
	}
	return c
}

// Default package lists of `paas stack create`: the build image has the
// toolchains the builtin buildpacks use; the run image only runtimes.
var (
	DefaultBuildPackages = []string{"ca-certificates", "curl", "git", "golang-go", "nodejs", "npm", "python3", "python3-venv", "python3-pip"}
	DefaultRunPackages   = []string{"ca-certificates", "nodejs", "python3"}
)

// checkStackName refuses a name the store cannot hold before any work is
// done (creating a stack takes minutes).
func checkStackName(name string) error {
	for _, n := range []string{name, runImageName(name)} {
		if _, err := oci.NormalizeName(n); err != nil {
			return usageError{fmt.Sprintf("stack name %q: %v", name, err)}
		}
	}
	return nil
}

// runImageName is where a stack's run image is stored, beside its build
// image NAME.
func runImageName(stack string) string { return appName(stack) + "/run" }

func stackCreate(ctx context.Context, env *cliEnv, c command, args []string) error {
	fs := newFlags(command{name: "stack create", usage: "stack create NAME [flags]", summary: "Build a Debian build and run image pair with mmdebstrap, rootless"}, env.stderr)
	suite := fs.String("suite", stacks.DefaultSuite, "Debian suite")
	build := fs.StringSlice("build-packages", nil, "packages added to the build image, comma separated")
	run := fs.StringSlice("run-packages", nil, "packages added to the run image, comma separated")
	packages := fs.StringSlice("packages", nil, "packages added to both images")
	mirror := fs.String("mirror", "", "Debian mirror URL (default: mmdebstrap's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	name, err := oneArg(fs, "stack name")
	if err != nil {
		return err
	}
	if err := checkStackName(name); err != nil {
		return err
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	con := console.New(env.stderr, false)
	spec := stackSpec{
		name: name, suite: *suite, mirror: *mirror,
		build: concat(DefaultBuildPackages, *packages, *build),
		run:   concat(DefaultRunPackages, *packages, *run),
	}
	return createStack(ctx, con, store, spec)
}

// stackSpec describes a stack to create.
type stackSpec struct {
	name, suite, mirror string
	build, run          []string
}

// createStack makes the build and run images and stores them as NAME and
// NAME/run.
func createStack(ctx context.Context, con *console.Console, store *oci.Store, s stackSpec) error {
	start := time.Now()
	work, err := os.MkdirTemp(tmpDir(store), "stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	images := []struct {
		what, name string
		packages   []string
	}{
		{"build", s.name, s.build},
		{"run", runImageName(s.name), s.run},
	}
	for _, i := range images {
		con.Step("Creating the %s image of stack %s from Debian %s", i.what, s.name, s.suite)
		con.Info("Packages: %s", strings.Join(i.packages, " "))
		img, err := stacks.Create(ctx, stacks.CreateOptions{
			Name: s.name, Suite: s.suite, Packages: i.packages, Mirror: s.mirror,
			Progress: con.Writer(), TempDir: work,
		})
		if err != nil {
			return fmt.Errorf("%w: creating stack %s: %v", errStack, s.name, err)
		}
		if err := putStack(ctx, con, store, i.name, img, start); err != nil {
			return err
		}
	}
	return nil
}

func concat(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, p := range l {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// stackPull takes a stack's images from a registry.
func stackPull(ctx context.Context, env *cliEnv, c command, args []string) error {
	fs := newFlags(command{name: "stack pull", usage: "stack pull NAME BUILD_REF [RUN_REF]", summary: "Take a stack's build (and run) image from a registry"}, env.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		return usageError{"paas stack pull takes NAME, BUILD_REF and optionally RUN_REF"}
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	con := console.New(env.stderr, false)
	start := time.Now()
	name := fs.Arg(0)
	if err := checkStackName(name); err != nil {
		return err
	}
	refs := map[string]string{name: fs.Arg(1)}
	if fs.NArg() == 3 {
		refs[runImageName(name)] = fs.Arg(2)
	}
	for _, target := range []string{name, runImageName(name)} {
		ref, ok := refs[target]
		if !ok {
			continue
		}
		con.Step("Pulling %s", ref)
		img, err := oci.Pull(ctx, ref)
		if err != nil {
			return fmt.Errorf("%w: pulling %s: %v", errStack, ref, err)
		}
		if err := putStack(ctx, con, store, target, img, start); err != nil {
			return err
		}
	}
	if fs.NArg() == 2 {
		// A stack given as a single image serves as both: an older run
		// image of the same name must not linger.
		if err := store.Remove(oci.KindStack, runImageName(name)); err != nil && !errors.Is(err, oci.ErrNotFound) {
			return err
		}
	}
	return nil
}

func stackImport(ctx context.Context, env *cliEnv, c command, args []string) error {
	fs := newFlags(command{name: "stack import", usage: "stack import NAME SOURCE", summary: "Import a stack from a rootfs tarball, oci:DIR, oci-archive:FILE or docker-archive:FILE"}, env.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"paas stack import takes NAME and SOURCE (a rootfs tarball, oci:DIR, oci-archive:FILE or docker-archive:FILE)"}
	}
	name, source := fs.Arg(0), fs.Arg(1)
	if err := checkStackName(name); err != nil {
		return err
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	con := console.New(env.stderr, false)
	start := time.Now()
	con.Step("Importing stack %s from %s", name, source)
	work, err := os.MkdirTemp(tmpDir(store), "stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	img, err := stacks.Import(ctx, source, work)
	if err != nil {
		return fmt.Errorf("%w: importing %s: %v", errStack, source, err)
	}
	return putStack(ctx, con, store, name, img, start)
}

func putStack(ctx context.Context, con *console.Console, store *oci.Store, name string, img v1Image, start time.Time) error {
	img, err := oci.OCI(img)
	if err != nil {
		return fmt.Errorf("%w: %v", errStack, err)
	}
	digest, err := store.Put(ctx, oci.KindStack, name, img)
	if err != nil {
		return fmt.Errorf("storing stack %s: %w", name, err)
	}
	con.Step("Stack %s (%s) ready in %s", name, digest, console.Duration(time.Since(start)))
	return nil
}

func stackList(env *cliEnv, c command, args []string) error {
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	entries, err := store.List(oci.KindStack)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tSUITE\tPACKAGES")
	for _, e := range entries {
		suite, pkgs := stackLabels(store, e.Name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, shortDigest(e.Digest.String()), console.Size(e.Size), suite, pkgs)
	}
	return tw.Flush()
}

func stackLabels(store *oci.Store, name string) (suite, packages string) {
	img, _, err := store.Image(oci.KindStack, name)
	if err != nil {
		return "", ""
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", ""
	}
	return cf.Config.Labels["io.paas.stack.suite"], strings.ReplaceAll(cf.Config.Labels["io.paas.stack.packages"], ",", " ")
}

func stackRemove(env *cliEnv, c command, args []string) error {
	fs := newFlags(command{name: "stack rm", usage: "stack rm NAME", summary: "Remove a stack from the store"}, env.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	name, err := oneArg(fs, "stack name")
	if err != nil {
		return err
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return err
	}
	img, _, err := store.Image(oci.KindStack, name)
	if err != nil {
		return fmt.Errorf("stack %s: %w", name, err)
	}
	if err := store.Remove(oci.KindStack, name); err != nil {
		return err
	}
	roots, err := rootfsCache(store.Home())
	if err != nil {
		return err
	}
	return roots.Remove(img)
}
