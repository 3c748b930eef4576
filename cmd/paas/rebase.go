package main

import (
	"context"
	"encoding/json"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
	"github.com/paas-dev/paas/rebase"
)

func rebaseCommand() command {
	c := command{name: "rebase", summary: "Move an image onto its stack's newer run image without rebuilding", usage: "rebase IMAGE [--run-image REF] [-t TAG] [--json]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		run := fs.String("run-image", "", "the stack (in the store, or a transport) whose run image to move onto, or an image in the store labelled with that stack (default: the image's own stack)")
		tag := fs.StringP("tag", "t", "", "store the result under this name (default: replace IMAGE)")
		asJSON := fs.Bool("json", false, "print a JSON report on stdout")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		ref, err := oneArg(fs, "image")
		if err != nil {
			return err
		}
		if oci.IsTransport(ref) {
			return usageError{"paas rebase works on images in the store; load " + ref + " with paas build --output or name a stored image"}
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		con := console.New(env.stderr, *asJSON)
		r, err := rebase.Image(ctx, h, rebase.Options{Image: ref, RunImage: *run, Tag: *tag, Console: con})
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(env.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		if r.AlreadyThere {
			con.Step("%s is on %s (%s) already", r.Image, r.RunImage, console.ShortDigest(r.RunDigest))
			return nil
		}
		con.Step("Rebased %s onto %s (%s), keeping its %d app layers", r.Image, r.RunImage, console.ShortDigest(r.RunDigest), r.AppLayers)
		con.Info("%s -> %s", r.Previous, r.Digest)
		return nil
	}
	return c
}
