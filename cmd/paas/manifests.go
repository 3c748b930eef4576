package main

import (
	"context"
	"errors"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/manifest"
)

func manifestsCommand() command {
	c := command{name: "manifests", summary: "Print Kubernetes objects that run an image as paas run would",
		usage: "manifests IMAGE [--image REF] [--name NAME] [--namespace NS] [--host HOST [--tls-secret NAME]] [--scale TYPE=N,...] [--process TYPE] [-e K=V]... [--env-file FILE] [--check PATH]"}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := newFlags(c, env.stderr)
		var o manifest.Options
		var scale, process, check, envFile string
		var vars []string
		fs.StringVar(&o.Image, "image", "", "the reference the cluster pulls, as pushed with paas build --push (default: IMAGE)")
		fs.StringVar(&o.Name, "name", "", "name of the objects (default: the image's repository's last part)")
		fs.StringVar(&o.Namespace, "namespace", "", "namespace of the objects (default: none, kubectl's)")
		fs.StringVar(&o.Host, "host", "", "host name of an Ingress to the web processes (default: no Ingress)")
		fs.StringVar(&o.TLSSecret, "tls-secret", "", "Secret holding the Ingress's certificate")
		fs.StringVar(&scale, "scale", "", "processes of each type, such as web=3,worker=1 (over app.json formation; default: one web)")
		fs.StringVar(&process, "process", "", "one process of this type alone")
		fs.StringArrayVarP(&vars, "env", "e", nil, "config var KEY=value of every process (repeatable)")
		fs.StringVar(&envFile, "env-file", "", "file of KEY=value config vars")
		fs.StringVar(&check, "check", "", "HTTP path that must answer 2xx for a web process to be ready (default: app.json healthchecks, else its port listening)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		ref, err := oneArg(fs, "image")
		if err != nil {
			return err
		}
		formation, err := deploy.ParseScale(scale)
		if err != nil {
			return err
		}
		if o.Env, err = processEnv(envFile, vars); err != nil {
			return err
		}
		img, name, err := openImage(ref)
		if err != nil {
			return err
		}
		plan, err := deploy.PlanOf(img, name, deploy.Options{Process: process, Scale: formation, Check: check})
		if err != nil {
			return err
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		o.Digest = digest.String()
		objs, err := manifest.Objects(plan, o)
		if errors.Is(err, manifest.ErrInvalid) {
			return usageError{err.Error()}
		}
		if err != nil {
			return err
		}
		return manifest.Write(env.stdout, objs)
	}
	return c
}
