package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/paas-dev/paas/console"
)

// command is one verb of the CLI.
type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every verb gets: where to write, and the store's home.
type cliEnv struct {
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		buildCommand(),
		runCommand(),
		psCommand(),
		logsCommand(),
		stopCommand(),
		generateCommand(),
		stackCommand(),
		imagesCommand(),
		inspectCommand(),
		rmCommand(),
		rebaseCommand(),
		manifestsCommand(),
		versionCommand(),
	}
}

func run(ctx context.Context, args []string) int {
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr}
	err := dispatch(ctx, env, args)
	if err == nil {
		return exitOK
	}
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%w: %w", errInterrupted, err)
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	}
	console.New(env.stderr, false).Error(err.Error())
	return exitCode(err)
}

func dispatch(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(env.stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	return usageError{fmt.Sprintf("unknown command %q; run `paas help` for the list", args[0])}
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "paas builds apps into OCI images with buildpacks, without a daemon, and runs them.")
	fmt.Fprintln(w, "\nUsage:")
	cmds := commands()
	sort.SliceStable(cmds, func(i, j int) bool { return false })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `paas COMMAND --help` for a command's flags. The store is $PAAS_HOME (default ~/.local/share/paas).")
}

// newFlags returns a flag set for a verb that reports errors as usage
// errors instead of exiting.
func newFlags(c command, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: paas %s\n\n%s\n\nFlags:\n%s", c.usage, c.summary, fs.FlagUsages())
	}
	return fs
}

func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%v (see `paas %s --help`)", err, fs.Name())}
	}
	return nil
}

func oneArg(fs *pflag.FlagSet, what string) (string, error) {
	if fs.NArg() != 1 {
		return "", usageError{fmt.Sprintf("paas %s takes one %s, got %d arguments: %s", fs.Name(), what, fs.NArg(), strings.Join(fs.Args(), " "))}
	}
	return fs.Arg(0), nil
}
