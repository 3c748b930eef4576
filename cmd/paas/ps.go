package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/home"
)

func psCommand() command {
	c := command{name: "ps", summary: "List the paas runs serving from this store", usage: "ps [--json]"}
	c.run = func(_ context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		asJSON := fs.Bool("json", false, "print a JSON list")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		list, err := deploy.List(h)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(env.stdout).Encode(list)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDIGEST\tPROCESSES\tURL\tRUNTIME\tUP\tRESTARTS\tPID")
		for _, s := range list {
			url := s.URL
			if url == "" {
				url = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Name, console.ShortDigest(s.Digest), s.Formation, url,
				s.Runtime, console.Duration(time.Since(s.Started).Truncate(time.Second)), s.Restarts, s.Pid)
		}
		return tw.Flush()
	}
	return c
}

func logsCommand() command {
	c := command{name: "logs", summary: "Show the output of a paas run -d", usage: "logs IMAGE [-f]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		follow := fs.BoolP("follow", "f", false, "keep printing new output until the run stops (or Ctrl-C)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		ref, err := oneArg(fs, "IMAGE")
		if err != nil {
			return err
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		return deploy.Logs(ctx, h, ref, *follow, env.stdout)
	}
	return c
}

func stopCommand() command {
	c := command{name: "stop", summary: "Stop the paas runs serving an image, gracefully", usage: "stop IMAGE [--timeout DUR]"}
	c.run = func(_ context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for them to finish")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		ref, err := oneArg(fs, "IMAGE")
		if err != nil {
			return err
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		pids, err := deploy.Stop(h, ref, *timeout)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "-----> Stopped %s (pid %v)\n", ref, pids)
		return nil
	}
	return c
}
