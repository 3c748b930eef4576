package deploy

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/appimage"
	"github.com/paas-dev/paas/health"
)

// Plan is what paas run would start of an image, worked out the way Serve
// works it out, for a platform that starts it elsewhere (package
// manifest): the formation, each type's readiness checks, the cron
// entries, and whether a release phase runs first.
type Plan struct {
	// Name is the image's name as given.
	Name      string
	Formation Formation
	// Processes are the image's process types and commands.
	Processes map[string]string
	// Checks are the readiness checks of each type of the formation: the
	// image's app.json healthchecks, or Options.Check; none means health's
	// default.
	Checks map[string][]health.Check
	Cron   []CronEntry
	// Release is whether the image has a release process type, run once
	// before the formation starts.
	Release bool
	// User is the image's user, uid[:gid].
	User string
}

// PlanOf works out the Plan of img, named name, under o (Process, Scale and
// Check; the rest is ignored).
func PlanOf(img v1.Image, name string, o Options) (*Plan, error) {
	m, err := readManifest(img)
	if err != nil {
		return nil, err
	}
	o.Image = name
	f, err := formationOf(img, m, o)
	if err != nil {
		return nil, err
	}
	in, err := appimage.Inspect(img, name)
	if err != nil {
		return nil, err
	}
	p := &Plan{Name: name, Formation: f, Processes: in.Processes, Checks: map[string][]health.Check{}, User: in.User}
	_, p.Release = in.Processes[ReleaseType]
	for _, typ := range f.Types() {
		if p.Checks[typ], err = readinessChecks(m, o, typ); err != nil {
			return nil, err
		}
	}
	if p.Cron, err = cronEntries(m); err != nil {
		return nil, err
	}
	return p, nil
}
