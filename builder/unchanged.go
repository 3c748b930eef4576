package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paas-dev/paas/fsutil"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/layers"
	"github.com/paas-dev/paas/lifecycle"
	"github.com/paas-dev/paas/oci"
)

// buildRecordVersion is the format of the build record and of the key in
// it; a record of another version is ignored.
const buildRecordVersion = 1

// buildRecord is what paas keeps of an app's last build
// (home.BuildRecord): the key of its inputs, taken with Since as the
// fingerprint's racy time (fsutil.StateDigest), and the image it made.
type buildRecord struct {
	Version int       `json:"version"`
	Key     string    `json:"key"`
	Since   time.Time `json:"since"`
	Report  *Report   `json:"report"`
}

// keys sets b.buildKey and b.since for the record this build leaves, and
// returns the last build's report when its key is this build's and its
// image is still the one tagged, so nothing needs doing; else nil.
func (b *build) keys(ctx context.Context, h *home.Home, o Options) *Report {
	last := b.lastBuild(h)
	if last != nil && b.key(ctx, h, o, last.Since) == last.Key {
		if report := b.unchanged(h, last); report != nil {
			b.buildKey, b.since = last.Key, last.Since
			return report
		}
	}
	b.since = time.Now().Add(-fsutil.RacyWindow)
	b.buildKey = b.key(ctx, h, o, b.since)
	return nil
}

// lastBuild reads the record of the last build; nil when there is none
// (or it cannot be read, which is as good as none).
func (b *build) lastBuild(h *home.Home) *buildRecord {
	data, err := os.ReadFile(h.BuildRecord(oci.Repository(b.tag)))
	if err != nil {
		return nil
	}
	var r buildRecord
	if json.Unmarshal(data, &r) != nil || r.Version != buildRecordVersion || r.Key == "" || r.Report == nil {
		return nil
	}
	return &r
}

// key hashes every input of the build (see lifecycle.Fingerprint), the
// stack's images, the export's settings and paas itself. It is "" when an
// unchanged build cannot be told from the inputs: --no-cache and --pull ask
// for the build to be done again, and without the sandbox the buildpacks
// run on the host's own tools, which no key covers.
func (b *build) key(ctx context.Context, h *home.Home, o Options, since time.Time) string {
	if o.NoCache || o.Pull || o.NoSandbox {
		return ""
	}
	fp, err := lifecycle.Fingerprint(ctx, b.lifecycleOptions(h, o), since)
	if err != nil {
		return ""
	}
	self, err := executableState()
	if err != nil {
		return ""
	}
	runDigest, err := b.stack.Run.Digest()
	if err != nil {
		return ""
	}
	data, err := json.Marshal([]any{buildRecordVersion, self, fp, b.tag, b.stack.Digest, b.stack.RunName,
		runDigest, o.Compression, layers.CompressorID(o.Compression), layers.SourceDateEpoch()})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// executableState identifies the running paas binary: another version (or
// build) of paas may build the same inputs differently.
func executableState() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d:%d %d %d %d", exe, st.Dev, st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()), nil
}

// unchanged returns last's report for this build, or nil when the image
// tagged is no longer last's.
func (b *build) unchanged(h *home.Home, last *buildRecord) *Report {
	_, entry, err := h.Store().Image(oci.KindImage, b.tag)
	if err != nil || entry.Digest.String() != last.Report.Digest {
		return nil
	}
	report := last.Report
	report.Unchanged, report.Outputs, report.Pushed = true, nil, ""
	report.Durations = map[string]float64{}
	stackLayer := "stack " + report.Stack.Name
	for i := range report.Layers {
		report.Layers[i].Reused = report.Layers[i].Holds != stackLayer
	}
	return report
}

// remember records report as the build of b.key, once its image is stored.
func (b *build) remember(h *home.Home, report *Report) error {
	path := h.BuildRecord(oci.Repository(b.tag))
	if b.buildKey == "" {
		// A build no key describes replaces what the record says.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.Marshal(buildRecord{Version: buildRecordVersion, Key: b.buildKey, Since: b.since, Report: report})
	if err != nil {
		return err
	}
	return fsutil.WriteFileData(path, 0o644, data)
}

// reuse says why nothing is built and writes the stored image to the
// outputs.
func (b *build) reuse(ctx context.Context, h *home.Home, o Options, r *Report) error {
	o.Console.Step("Nothing changed since the last build of %s: same source, buildpacks, stack and config vars (--no-cache builds again)", r.Image)
	img, _, err := h.Store().Image(oci.KindImage, b.tag)
	if err != nil {
		return fmt.Errorf("%w: %w", lifecycle.ErrExport, err)
	}
	return writeOutputs(ctx, o, img, b.tag, r)
}
