package builder

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
)

// export turns the built app into an image on the stack's run image,
// stores it, then writes the outputs and pushes.
func (b *build) export(ctx context.Context, h *home.Home, o Options, res *lifecycle.Result) (*Report, error) {
	report := &Report{Image: b.tag, Buildpacks: res.Buildpacks, Processes: res.Processes, Durations: map[string]float64{}}
	for _, d := range res.Durations {
		report.Durations[d.Phase] = round(d.Seconds)
	}
	start := time.Now()
	o.Console.Step("Exporting image %s", b.tag)
	s := b.stack
	cache := openLayerCache(h.Store(), h.LayerCache(oci.Repository(b.tag)), o.NoCache)
	defer cache.close()
	// The image this name has now: CNB launch layers kept without being
	// rebuilt come from it.
	previous, _, err := h.Store().Image(oci.KindImage, b.tag)
	if err != nil {
		previous = nil
	}
	img, infos, err := lifecycle.Export(res, lifecycle.ExportOptions{
		Base:        s.Run,
		Stack:       lifecycle.StackLabel{Name: s.Name, Digest: s.Digest.String()},
		RunName:     s.RunName,
		Epoch:       layers.SourceDateEpoch(),
		Compression: o.Compression,
		TempDir:     b.work,
		Warn:        o.Console.Warner(),
		Reuse:       cache,
		Previous:    previous,
	})
	if err != nil {
		return nil, err
	}
	digest, err := h.Store().Put(ctx, oci.KindImage, b.tag, img)
	if err != nil {
		return nil, fmt.Errorf("%w: storing %s: %w", lifecycle.ErrExport, b.tag, err)
	}
	if err := cache.save(); err != nil {
		o.Console.Warn("%v (the next build compresses every layer again)", err)
	}
	runDigest, err := s.Run.Digest()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrExport, err)
	}
	report.Digest, report.Layers = digest.String(), infos
	report.Stack = lifecycle.StackLabel{Name: s.Name, Digest: s.Digest.String(), RunImage: s.RunName, RunDigest: runDigest.String()}
	for _, l := range infos {
		reused := ""
		if l.Reused {
			reused = " (reused)"
		}
		o.Console.Info("%s  %-9s %s%s", console.ShortDigest(l.Digest), console.Size(l.Size), l.Holds, reused)
	}
	report.Durations["export"] = round(time.Since(start).Seconds())
	if err := b.remember(h, report); err != nil {
		o.Console.Warn("recording the build: %v (the next build runs the buildpacks even when nothing changed)", err)
	}
	if err := writeOutputs(ctx, o, img, b.tag, report); err != nil {
		return nil, err
	}
	return report, nil
}

func writeOutputs(ctx context.Context, o Options, img v1.Image, tag string, report *Report) error {
	for _, dest := range o.Outputs {
		if err := oci.Write(ctx, img, dest, tag); err != nil {
			return fmt.Errorf("%w: writing %s: %w", ErrOutput, dest, err)
		}
		o.Console.Info("Wrote %s", dest)
		report.Outputs = append(report.Outputs, dest)
	}
	if o.Push != "" {
		o.Console.Step("Pushing %s", o.Push)
		if err := oci.Push(ctx, img, o.Push, o.Console.Writer()); err != nil {
			return fmt.Errorf("%w: pushing %s: %w", ErrOutput, o.Push, err)
		}
		report.Pushed = o.Push
	}
	return nil
}

var (
	invalidNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)
	separatorRuns    = regexp.MustCompile(`[._-]{2,}`)
)

// ImageName returns the normalised image name: tag, else the app
// directory's base name made a valid repository name.
func ImageName(tag, appDir string) (string, error) {
	name := tag
	if name == "" {
		if abs, err := filepath.Abs(appDir); err == nil {
			appDir = abs
		}
		name = invalidNameChars.ReplaceAllString(strings.ToLower(filepath.Base(appDir)), "-")
		name = strings.Trim(separatorRuns.ReplaceAllString(name, "-"), "-._")
		if name == "" {
			name = "app"
		}
	}
	return oci.NormalizeName(name)
}
