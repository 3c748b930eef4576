package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/oci"
)

type v1Image = v1.Image

func imagesCommand() command {
	c := command{name: "images", summary: "List the images in the store", usage: "images [--json]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		asJSON := fs.Bool("json", false, "print a JSON list")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		store, err := oci.Open(oci.DefaultHome())
		if err != nil {
			return err
		}
		entries, err := store.List(oci.KindImage)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, shortDigest(e.Digest.String()), console.Size(e.Size))
		}
		return tw.Flush()
	}
	return c
}

// inspection is what `paas inspect` shows.
type inspection struct {
	Name       string            `json:"name"`
	Digest     string            `json:"digest"`
	Created    string            `json:"created"`
	Stack      json.RawMessage   `json:"stack,omitempty"`
	Buildpacks json.RawMessage   `json:"buildpacks,omitempty"`
	Processes  map[string]string `json:"processes"`
	Default    string            `json:"default_process,omitempty"`
	Env        []string          `json:"env"`
	User       string            `json:"user"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd"`
	Labels     map[string]string `json:"labels"`
	Layers     []layerRow        `json:"layers"`
}

type layerRow struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	By     string `json:"created_by,omitempty"`
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
		in, err := inspect(img, name)
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

// openImage finds an image by store name or transport path.
func openImage(ref string) (v1.Image, string, error) {
	if oci.IsTransport(ref) {
		img, err := oci.Load(ref)
		return img, ref, err
	}
	name, err := oci.NormalizeName(ref)
	if err != nil {
		return nil, "", usageError{fmt.Sprintf("image %q: %v", ref, err)}
	}
	store, err := oci.Open(oci.DefaultHome())
	if err != nil {
		return nil, "", err
	}
	img, _, err := store.Image(oci.KindImage, name)
	if err != nil {
		return nil, "", fmt.Errorf("image %s: %w (see `paas images`)", name, err)
	}
	return img, name, nil
}

func inspect(img v1.Image, name string) (*inspection, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	c := cf.Config
	in := &inspection{
		Name: name, Digest: digest.String(), Created: cf.Created.UTC().Format("2006-01-02T15:04:05Z"),
		Env: c.Env, User: c.User, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Labels: c.Labels,
		Processes: map[string]string{},
	}
	if s := c.Labels[oci.LabelStack]; s != "" {
		in.Stack = json.RawMessage(s)
	}
	if s := c.Labels[oci.LabelBuildpacks]; s != "" {
		in.Buildpacks = json.RawMessage(s)
	}
	if s := c.Labels[oci.LabelProcesses]; s != "" {
		_ = json.Unmarshal([]byte(s), &in.Processes)
	}
	in.Default = launch.DefaultType(in.Processes)
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		d, _ := l.Digest()
		size, _ := l.Size()
		row := layerRow{Digest: d.String(), Size: size}
		if i < len(cf.History) {
			row.By = cf.History[i].CreatedBy
		}
		in.Layers = append(in.Layers, row)
	}
	return in, nil
}

func printInspection(env *cliEnv, in *inspection) {
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", shortDigest(l.Digest), console.Size(l.Size), l.By)
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
		store, err := oci.Open(oci.DefaultHome())
		if err != nil {
			return err
		}
		for _, ref := range fs.Args() {
			name, err := oci.NormalizeName(ref)
			if err != nil {
				return usageError{fmt.Sprintf("image %q: %v", ref, err)}
			}
			if err := store.Remove(oci.KindImage, name); err != nil {
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
