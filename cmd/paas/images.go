package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/oci"
)

func imagesCommand() command {
	c := command{name: "images", summary: "List the images in the store", usage: "images [--json]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		asJSON := fs.Bool("json", false, "print a JSON list")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		entries, err := h.Store().List(oci.KindImage)
		if err != nil {
			return err
		}
		if *asJSON {
			type row struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			}
			rows := []row{}
			for _, e := range entries {
				rows = append(rows, row{e.Name, e.Digest.String(), e.Size})
			}
			return json.NewEncoder(env.stdout).Encode(rows)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, console.ShortDigest(e.Digest.String()), console.Size(e.Size))
		}
		return tw.Flush()
	}
	return c
}

func inspectCommand() command {
	c := command{name: "inspect", summary: "Show an image's processes, buildpacks, stack and layers", usage: "inspect IMAGE [--json]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		ref, err := oneArg(fs, "image")
		if err != nil {
			return err
		}
		img, name, err := openImage(ref)
		if err != nil {
			return err
		}
		in, err := appimage.Inspect(img, name)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(env.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(in)
		}
		printInspection(env, in)
		return nil
	}
	return c
}

// openImage reads the image ref names from the store (or a transport).
func openImage(ref string) (v1.Image, string, error) {
	h, err := home.Open("")
	if err != nil {
		return nil, "", err
	}
	return h.Image(ref)
}

func printInspection(env *cliEnv, in *appimage.Inspection) {
	w := env.stdout
	fmt.Fprintf(w, "Image:   %s\nDigest:  %s\nUser:    %s\n", in.Name, in.Digest, in.User)
	if in.Stack != nil {
		fmt.Fprintf(w, "Stack:   %s\n", in.Stack)
	}
	if in.Buildpacks != nil {
		fmt.Fprintf(w, "Buildpacks: %s\n", in.Buildpacks)
	}
	fmt.Fprintln(w, "Processes:")
	types := make([]string, 0, len(in.Processes))
	for t := range in.Processes {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		mark := " "
		if t == in.Default {
			mark = "*"
		}
		fmt.Fprintf(w, "  %s %-10s %s\n", mark, t, in.Processes[t])
	}
	fmt.Fprintln(w, "Layers:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range in.Layers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", console.ShortDigest(l.Digest), console.Size(l.Size), l.By)
	}
	tw.Flush()
}

func rmCommand() command {
	c := command{name: "rm", summary: "Remove an image from the store", usage: "rm IMAGE..."}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return usageError{"paas rm takes one or more image names"}
		}
		h, err := home.Open("")
		if err != nil {
			return err
		}
		for _, ref := range fs.Args() {
			name, err := oci.NormalizeName(ref)
			if err != nil {
				return usageError{fmt.Sprintf("image %q: %v", ref, err)}
			}
			if err := h.Store().Remove(oci.KindImage, name); err != nil {
				return fmt.Errorf("removing %s: %w", name, err)
			}
			fmt.Fprintf(env.stdout, "Removed %s\n", name)
		}
		return nil
	}
	return c
}

// version is set at link time by the Makefile.
var version = "dev"

func versionCommand() command {
	c := command{name: "version", summary: "Print paas's version", usage: "version"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fmt.Fprintf(env.stdout, "paas %s\n", version)
		return nil
	}
	return c
}
