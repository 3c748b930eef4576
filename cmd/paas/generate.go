package main

import (
	"context"
	"fmt"
	"os"
	osuser "os/user"
	"path/filepath"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/home"
)

func generateCommand() command {
	c := command{
		name:    "generate",
		summary: "Print a systemd unit that serves an image as paas run would, across reboots",
		usage:   "generate systemd [paas run flags] IMAGE",
	}
	c.run = func(_ context.Context, env *cliEnv, args []string) error {
		if len(args) == 0 || args[0] != "systemd" {
			return usageError{"paas generate knows one kind: paas generate systemd [paas run flags] IMAGE"}
		}
		var f runFlags
		fs := newFlags(c, env.stderr)
		f.define(fs)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 || fs.ArgsLenAtDash() >= 0 || f.replace {
			return usageError{"paas generate systemd takes the flags of paas run and one IMAGE (no one-off command, no --replace)"}
		}
		if err := f.check(); err != nil {
			return err
		}
		for name, path := range map[string]string{"--env-file": f.envFile, "--tls-cert": f.TLSCert, "--tls-key": f.TLSKey} {
			if path != "" && !filepath.IsAbs(path) {
				return usageError{fmt.Sprintf("%s %s: give an absolute path, as systemd starts paas in /", name, path)}
			}
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		dir, err := filepath.Abs(h.Dir())
		if err != nil {
			return err
		}
		u := deploy.Unit{Home: dir, Image: fs.Arg(0), RunArgs: args[1:], StopTimeout: f.StopTimeout}
		if u.Exe, err = executable(); err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			if me, err := osuser.Current(); err == nil {
				u.User = me.Username
			}
		}
		fmt.Fprint(env.stdout, deploy.SystemdUnit(u))
		return nil
	}
	return c
}

// executable is paas's own absolute path, links resolved.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding paas's own path: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return exe, nil
}
