package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/paas-dev/paas/launch"
	"github.com/paas-dev/paas/oci"
)

// cnbLabels adds the labels CNB platforms write (io.buildpacks.*), filled
// as far as paas's build has the facts, so that tools made for CNB images
// (pack inspect, rebase tooling, registries' UIs) read paas's images: the
// stack, the run image and its top layer, the buildpacks and the
// processes. paas's own labels stay the ones it reads.
func cnbLabels(labels map[string]string, res *Result, stack StackLabel) error {
	type buildpackRef struct {
		ID      string `json:"id"`
		Version string `json:"version,omitempty"`
	}
	type process struct {
		Type    string   `json:"type"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
		Direct  bool     `json:"direct"`
	}
	var bps []buildpackRef
	for _, bp := range res.Buildpacks {
		id := bp.ID
		if id == "" {
			id = bp.Name
		}
		bps = append(bps, buildpackRef{id, bp.Version})
	}
	procs := []process{}
	for _, t := range launch.SortedTypes(res.Processes) {
		procs = append(procs, process{Type: t, Command: []string{res.Processes[t]}, Args: []string{}})
	}
	build := map[string]any{
		"buildpacks": bps,
		"processes":  procs,
		"launcher":   map[string]string{"version": "paas"},
	}
	type layer struct {
		SHA  string         `json:"sha"`
		Data map[string]any `json:"data,omitempty"`
		LayerTypes
	}
	type keyed struct {
		Key     string           `json:"key"`
		Version string           `json:"version,omitempty"`
		Layers  map[string]layer `json:"layers,omitempty"`
	}
	var keys []keyed
	for _, bp := range bps {
		k := keyed{Key: bp.ID, Version: bp.Version}
		for _, l := range res.CNBLayers {
			if l.Buildpack != bp.ID {
				continue
			}
			if k.Layers == nil {
				k.Layers = map[string]layer{}
			}
			k.Layers[l.Name] = layer{SHA: l.Digest, Data: l.Metadata, LayerTypes: l.Types}
		}
		keys = append(keys, k)
	}
	lifecycle := map[string]any{"buildpacks": keys} // SetRunImage adds the run image
	for key, v := range map[string]any{oci.LabelCNBBuild: build, oci.LabelCNBLifecycle: lifecycle} {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		labels[key] = string(data)
	}
	labels[oci.LabelCNBStackID] = stack.Name
	return nil
}

// SetRunImage writes the stack and run image an image is on into its
// labels: io.paas.stack, and the run image parts of
// io.buildpacks.lifecycle.metadata (runImage, stack), keeping the rest of
// that label. The export and paas rebase both write them so.
func SetRunImage(labels map[string]string, stack StackLabel) error {
	st, err := json.Marshal(stack)
	if err != nil {
		return err
	}
	labels[oci.LabelStack] = string(st)
	meta := map[string]any{}
	if raw := labels[oci.LabelCNBLifecycle]; raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber() // buildpacks' metadata keeps its numbers as written
		if err := dec.Decode(&meta); err != nil || meta == nil {
			meta = map[string]any{}
		}
	}
	meta["runImage"] = map[string]string{"topLayer": stack.RunTopLayer, "reference": stack.RunDigest}
	meta["stack"] = map[string]any{"runImage": map[string]string{"image": stack.RunImage}}
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	labels[oci.LabelCNBLifecycle] = string(data)
	return nil
}

// keptLayer finds, in the previous image's io.buildpacks.lifecycle.metadata
// label, the layer l's buildpack made under l's name, and returns it.
func keptLayer(previous v1.Image, l CNBLayer) (v1.Layer, error) {
	if previous == nil {
		return nil, errors.New("its buildpack kept it from the last image, but there is none (build with --no-cache to make it anew)")
	}
	cf, err := previous.ConfigFile()
	if err != nil {
		return nil, err
	}
	var meta struct {
		Buildpacks []struct {
			Key    string `json:"key"`
			Layers map[string]struct {
				SHA string `json:"sha"`
			} `json:"layers"`
		} `json:"buildpacks"`
	}
	if err := json.Unmarshal([]byte(cf.Config.Labels[oci.LabelCNBLifecycle]), &meta); err != nil {
		return nil, fmt.Errorf("reading the last image's %s label: %w", oci.LabelCNBLifecycle, err)
	}
	for _, bp := range meta.Buildpacks {
		if sha := bp.Layers[l.Name].SHA; bp.Key == l.Buildpack && sha != "" {
			h, err := v1.NewHash(sha)
			if err != nil {
				return nil, err
			}
			return previous.LayerByDigest(h)
		}
	}
	return nil, errors.New("its buildpack kept it from the last image, which has no such layer (build with --no-cache to make it anew)")
}
