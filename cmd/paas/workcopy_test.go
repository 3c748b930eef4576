package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/internal/testenv"
)

// vandalApp writes an app for the vandal buildpack: files it attacks, a
// hard-linked pair, a read-only directory, and what the working copy
// leaves out (.git, a nested .git, .env, the --env-file vars.env,
// .slugignore matches and a fifo).
func vandalApp(t *testing.T, u user) string {
	t.Helper()
	app := filepath.Join(userTempDir(t, u), "app")
	testenv.WriteFiles(t, app, map[string]string{
		"README": "readme\n", "data.txt": "data\n", "script.sh": "#!/bin/sh\n", "remove-me": "x\n",
		"lib/old.txt": "old\n", "keep.txt": "keep\n", "linked-a": "linked\n", "ro/file": "ro\n",
		".git/HEAD": "ref: refs/heads/main\n", "sub/.git/config": "[core]\n", ".env": "SECRET=dotenv\n",
		"vars.env": "SECRET=file\n", ".slugignore": "*.log\nprivate/\n", "debug.log": "log\n", "private/key": "key\n",
	})
	if err := os.Link(filepath.Join(app, "linked-a"), filepath.Join(app, "linked-b")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(app, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	chown(t, app, u)
	if err := os.Chmod(filepath.Join(app, "ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	return app
}

// The working copy is an overlay of the source, nothing copied: what a
// hostile buildpack does through /app never reaches the source, what the
// working copy leaves out is neither visible to buildpacks nor in the
// image, and the image holds what the buildpack left.
func TestBuildWorkingCopyOverlay(t *testing.T) {
	forEachUser(t, func(t *testing.T, h *testHome) {
		app := vandalApp(t, h.user)
		before := testenv.TreeState(t, app)
		out, code := h.paas(t, "build", "-t", "vandal", "-b", buildpackDir("vandal"), "--env-file", filepath.Join(app, "vars.env"), app)
		if code != 0 {
			t.Fatalf("paas build: exit %d\n%s", code, out.stderr)
		}
		all := out.stdout + out.stderr
		contains(t, "output", all, "Working copy: an overlay of the source directory")
		contains(t, "output", all, "skipping fifo pipe")
		if after := testenv.TreeState(t, app); after != before {
			t.Errorf("the source changed:\n%s\nwant\n%s", after, before)
		}
		entries := layerEntries(t, lastLayers(t, storedImage(t, h, "vandal"), 1)[0])
		seen := entries["app/seen.txt"].body
		for _, hidden := range []string{".git", "sub/.git", ".env", "vars.env", "debug.log", "private", "pipe"} {
			if strings.Contains(seen, "./"+hidden+"\n") {
				t.Errorf("the buildpack saw %s:\n%s", hidden, seen)
			}
			if _, ok := entries["app/"+hidden]; ok {
				t.Errorf("the image holds %s", hidden)
			}
		}
		for _, shown := range []string{"README", "ro/file", "sub", ".slugignore"} {
			contains(t, "seen.txt", seen, "./"+shown+"\n")
		}
		for name, want := range map[string]string{"README": "readme\nvandal\n", "data.txt": "", "lib/new.txt": "new\n",
			"moved.txt": "keep\n", "linked-a": "linked\nthrough-link\n", "linked-b": "linked\n", "ro/new": "written\n"} {
			if e, ok := entries["app/"+name]; !ok || e.body != want {
				t.Errorf("image %s = %q (present: %v), want %q", name, e.body, ok, want)
			}
		}
		for _, gone := range []string{"remove-me", "lib/old.txt", "keep.txt"} {
			if _, ok := entries["app/"+gone]; ok {
				t.Errorf("the image holds %s, which the buildpack removed", gone)
			}
		}
		for name, want := range map[string]int64{"script.sh": 0o600, "ro": 0o777} {
			if e := entries["app/"+name]; e.hdr == nil || e.hdr.Mode&0o7777 != want {
				t.Errorf("image %s mode = %v, want %o", name, e.hdr, want)
			}
		}
	})
}
