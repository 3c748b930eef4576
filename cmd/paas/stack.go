package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/stacks"
)

func stackCommand() command {
	c := command{
		name:    "stack",
		summary: "Create, import, list and remove stacks (the base images buildpacks run on)",
		usage:   "stack create NAME [--suite SUITE] [--build-packages p1,p2] [--run-packages p1,p2] [--packages p1,p2] [--mirror URL] | stack import NAME SOURCE | stack pull NAME BUILD_REF [RUN_REF] | stack ls | stack rm NAME",
	}
	subs := map[string]func(context.Context, *cliEnv, []string) error{
		"create": stackCreate, "import": stackImport, "pull": stackPull,
		"ls": stackList, "list": stackList, "rm": stackRemove, "remove": stackRemove,
	}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		if len(args) == 0 {
			return usageError{"paas stack needs a subcommand: create, import, pull, ls or rm"}
		}
		switch sub, ok := subs[args[0]]; {
		case ok:
			return sub(ctx, env, args[1:])
		case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
			fmt.Fprintf(env.stdout, "Usage: paas %s\n", c.usage)
			return nil
		}
		return usageError{fmt.Sprintf("unknown stack subcommand %q: want create, import, pull, ls or rm", args[0])}
	}
	return c
}

// stackArgs parses a stack subcommand's flags and checks it got between
// least and most arguments, the first a stack name; it opens the home.
func stackArgs(sub command, fs *pflag.FlagSet, args []string, least, most int) ([]string, *home.Home, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() < least || fs.NArg() > most {
		return nil, nil, usageError{fmt.Sprintf("paas %s takes %s", sub.name, strings.TrimPrefix(sub.usage, sub.name+" "))}
	}
	if least > 0 {
		if err := stacks.CheckName(fs.Arg(0)); err != nil {
			return nil, nil, usageError{err.Error()}
		}
	}
	h, err := home.Open("")
	return fs.Args(), h, err
}

func stackCreate(ctx context.Context, env *cliEnv, args []string) error {
	sub := command{name: "stack create", usage: "stack create NAME [flags]", summary: "Build a Debian build and run image pair with mmdebstrap, rootless"}
	fs := newFlags(sub, env.stderr)
	suite := fs.String("suite", stacks.DefaultSuite, "Debian suite")
	build := fs.StringSlice("build-packages", nil, "packages added to the build image, comma separated")
	run := fs.StringSlice("run-packages", nil, "packages added to the run image, comma separated")
	packages := fs.StringSlice("packages", nil, "packages added to both images")
	mirror := fs.String("mirror", "", "Debian mirror URL (default: mmdebstrap's)")
	a, h, err := stackArgs(sub, fs, args, 1, 1)
	if err != nil {
		return err
	}
	return stacks.CreatePair(ctx, h, stacks.PairSpec{
		Name: a[0], Suite: *suite, Mirror: *mirror,
		Build: concat(stacks.DefaultBuildPackages, *packages, *build),
		Run:   concat(stacks.DefaultRunPackages, *packages, *run),
	}, console.New(env.stderr, false))
}

// concat joins package lists, each package once, in order.
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

func stackPull(ctx context.Context, env *cliEnv, args []string) error {
	sub := command{name: "stack pull", usage: "stack pull NAME BUILD_REF [RUN_REF]", summary: "Take a stack's build (and run) image from a registry"}
	a, h, err := stackArgs(sub, newFlags(sub, env.stderr), args, 2, 3)
	if err != nil {
		return err
	}
	runRef := ""
	if len(a) == 3 {
		runRef = a[2]
	}
	return stacks.PullPair(ctx, h, a[0], a[1], runRef, console.New(env.stderr, false))
}

func stackImport(ctx context.Context, env *cliEnv, args []string) error {
	sub := command{name: "stack import", usage: "stack import NAME SOURCE", summary: "Import a stack from a rootfs tarball, oci:DIR, oci-archive:FILE or docker-archive:FILE"}
	a, h, err := stackArgs(sub, newFlags(sub, env.stderr), args, 2, 2)
	if err != nil {
		return err
	}
	return stacks.ImportInto(ctx, h, a[0], a[1], console.New(env.stderr, false))
}

func stackList(_ context.Context, env *cliEnv, args []string) error {
	sub := command{name: "stack ls", usage: "stack ls", summary: "List the stacks in the store"}
	_, h, err := stackArgs(sub, newFlags(sub, env.stderr), args, 0, 0)
	if err != nil {
		return err
	}
	list, err := stacks.List(h)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tSUITE\tPACKAGES")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, console.ShortDigest(s.Digest.String()), console.Size(s.Size), s.Suite, strings.Join(s.Packages, " "))
	}
	return tw.Flush()
}

func stackRemove(_ context.Context, env *cliEnv, args []string) error {
	sub := command{name: "stack rm", usage: "stack rm NAME", summary: "Remove a stack from the store"}
	a, h, err := stackArgs(sub, newFlags(sub, env.stderr), args, 1, 1)
	if err != nil {
		return err
	}
	return stacks.Remove(h, a[0])
}
