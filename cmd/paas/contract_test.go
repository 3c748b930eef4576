package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A buildpack's export file reaches later buildpacks' compile; .buildpacks
// chooses and orders them.
func TestBuildExportBetweenBuildpacks(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := userTempDir(t, h.user)
		lines := buildpackDir("exporter") + "\n" + buildpackDir("consumer") + "\n"
		if err := os.WriteFile(filepath.Join(app, ".buildpacks"), []byte("# order matters\n"+lines), 0o644); err != nil {
			t.Fatal(err)
		}
		chown(t, app, h.user)
		r := h.mustBuild(t, "-t", "multi", app)
		got := appFile(t, h, r.Image, "consumer.txt")
		contains(t, "consumer.txt", got, "EXPORTED_GREETING=from exporter")
		contains(t, "consumer.txt", got, "tool=exporter-tool-ran")
		if len(r.Buildpacks) != 2 || r.Buildpacks[0].Name != "exporter" || r.Buildpacks[1].Name != "consumer" {
			t.Errorf("buildpacks = %+v, want exporter then consumer", r.Buildpacks)
		}
		if r.Processes["worker"] != "cat consumer.txt" {
			t.Errorf("processes = %v, want consumer's release default worker", r.Processes)
		}
	})
}

// The fixture app's relative .buildpacks entries resolve against the app.
func TestBuildFixtureMulti(t *testing.T) {
	h := sharedHome(t, root)
	r := h.mustBuild(t, testFixtureApp("multi"))
	contains(t, "consumer.txt", appFile(t, h, r.Image, "consumer.txt"), "from exporter")
}

func testFixtureApp(name string) string {
	return filepath.Join(buildpackDir(".."), "apps", name)
}

// CACHE_DIR persists between builds of one image name and --no-cache
// empties it; ENV_DIR holds config vars, which stay out of the environment.
func TestBuildCacheAndEnvDir(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := userTempDir(t, h.user)
		envFile := filepath.Join(userTempDir(t, h.user), "vars.env")
		if err := os.WriteFile(envFile, []byte("# config\nexport FROM_FILE=\"file value\"\nOVERRIDDEN=file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, ".env"), []byte("FROM_DOTENV=dotenv\nOVERRIDDEN=dotenv\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		chown(t, app, h.user)
		chown(t, envFile, h.user)
		args := []string{"-t", "cached-" + h.user.name, "-b", buildpackDir("cache-env"),
			"--env-file", envFile, "-e", "SECRET_TOKEN=s3cr3t", "-e", "OVERRIDDEN=flag", app}
		h.mustBuild(t, args...)
		// Another config var, so that the buildpack runs again rather than
		// the last build being reused unchanged.
		r := h.mustBuild(t, append([]string{"-e", "BUILD=2"}, args...)...)
		if got := strings.TrimSpace(appFile(t, h, r.Image, "build-count")); got != "2" {
			t.Errorf("second build count = %s, want 2 (CACHE_DIR kept)", got)
		}
		r = h.mustBuild(t, append([]string{"--no-cache"}, args...)...)
		if got := strings.TrimSpace(appFile(t, h, r.Image, "build-count")); got != "1" {
			t.Errorf("--no-cache build count = %s, want 1", got)
		}
		envDir := appFile(t, h, r.Image, "env-dir.txt")
		for _, want := range []string{"SECRET_TOKEN=s3cr3t", "FROM_FILE=file value", "FROM_DOTENV=dotenv", "OVERRIDDEN=flag"} {
			contains(t, "ENV_DIR", envDir, want)
		}
		env := parseLines(appFile(t, h, r.Image, "build-env.txt"))
		want := map[string]string{
			"STACK": "test", "HOME": "/app", "PWD": "/app", "SECRET_IN_ENV": "unset",
			"REQUEST_ID_SET": "yes", "BUILD_DIR": "/app", "CACHE_DIR": "/paas/cache", "ENV_DIR": "/paas/env",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("build env %s = %q, want %q", k, env[k], v)
			}
		}
	})
}

func parseLines(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}

// SOURCE_VERSION is the commit of a git checkout, .git stays out, and the
// origin is recorded without its credentials.
func TestBuildGitCheckout(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	git := func(args ...string) string {
		t.Helper()
		out, err := execOutput("git", append([]string{"-C", app, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(out)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "app")
	git("remote", "add", "origin", "https://ci:s3cr3t-token@example.com/acme/hello.git")
	commit := git("rev-parse", "HEAD")
	r := h.mustBuild(t, "-t", "gitapp", "-b", buildpackDir("cache-env"), app)
	env := parseLines(appFile(t, h, r.Image, "build-env.txt"))
	if env["SOURCE_VERSION"] != commit {
		t.Errorf("SOURCE_VERSION = %q, want %s", env["SOURCE_VERSION"], commit)
	}
	cf, _ := storedImage(t, h, r.Image).ConfigFile()
	if cf.Config.Labels["org.opencontainers.image.revision"] != commit ||
		cf.Config.Labels["org.opencontainers.image.source"] != "https://example.com/acme/hello.git" {
		t.Errorf("labels = %v", cf.Config.Labels)
	}
	for name := range layerEntries(t, lastLayers(t, storedImage(t, h, r.Image), 1)[0]) {
		if strings.HasPrefix(name, "app/.git") {
			t.Fatalf("app layer has %s", name)
		}
	}
}

// Buildpacks written the way real ones are, in bash with an export file of
// `declare -x` lines, hand their variables on; the image's .profile.d
// scripts and process commands run in bash, as on Heroku.
func TestBuildBashBuildpacks(t *testing.T) {
	h := sharedHome(t, root)
	app := userTempDir(t, h.user)
	// The image's user must be able to enter /app.
	if err := os.Chmod(app, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := buildpackDir("bash-exporter") + "\n" + buildpackDir("bash-consumer") + "\n"
	if err := os.WriteFile(filepath.Join(app, ".buildpacks"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.mustBuild(t, "-t", "bash-buildpacks", app)
	got := appFile(t, h, r.Image, "bash-consumer.txt")
	contains(t, "bash-consumer.txt", got, `BASH_EXPORTED_GREETING=hello from bash: "quoted" $literal \backslash`+"\n")
	contains(t, "bash-consumer.txt", got, "tool=greet: hi\n")
	// SHLVL in the export file is bash-exporter's own, not an export.
	if strings.Contains(got, "SHLVL=2") || strings.Contains(got, "SHLVL=3") {
		t.Errorf("bash-consumer.txt: SHLVL was exported:\n%s", got)
	}

	img := storedImage(t, h, r.Image)
	rootfs := unpackImage(t, img)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"greeting"}, "shout: from profile.d in /app/.profile.d\n"},
		{[]string{"bashism"}, "bash ran the command\n"},
		{[]string{"sh", "-c", "echo $PROFILE_GREETING"}, "from profile.d in /app/.profile.d\n"},
	} {
		var out strings.Builder
		if err := launchImage(context.Background(), t, img, rootfs, nil, &out, tc.args...); err != nil {
			t.Errorf("launcher %q: %v", tc.args, err)
		}
		if out.String() != tc.want {
			t.Errorf("launcher %q printed %q, want %q", tc.args, out.String(), tc.want)
		}
	}
}

// app.json's buildpacks may name a builtin buildpack; the image records it
// by name and content hash, never by the store path it was extracted to.
// An entry without a url stops the build naming the file.
func TestBuildBuiltinByNameFromAppJSON(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "procfile")
	manifest := `{"buildpacks": [{"url": "procfile"}], "healthchecks": {"web": [{"path": "/"}]}}`
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.mustBuild(t, "-t", "appjson-procfile", app)
	if bps := r.Buildpacks; len(bps) != 1 || bps[0].Name != "procfile" || bps[0].Ref != "procfile" || !strings.HasPrefix(bps[0].Resolved, "builtin@sha256:") {
		t.Errorf("buildpacks = %+v, want procfile by name, builtin@sha256-pinned", bps)
	}
	cf, err := storedImage(t, h, r.Image).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if label := cf.Config.Labels["io.paas.buildpacks"]; strings.Contains(label, h.dir) {
		t.Errorf("io.paas.buildpacks = %s, names the store %s", label, h.dir)
	}

	bad := `{"buildpacks": [{"url": "procfile"}, {"name": "x"}]}`
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := h.paas(t, "build", "-t", "appjson-bad", app)
	if code != exitDetect {
		t.Fatalf("app.json entry without url: exit %d, want %d\n%s", code, exitDetect, out.stderr)
	}
	contains(t, "stderr", out.stderr, filepath.Join(app, "app.json")+`: buildpacks[1] has no "url"`)
}
