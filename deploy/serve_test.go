package deploy

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/builder"
	"github.com/paas-dev/paas/console"
	"github.com/paas-dev/paas/home"
	"github.com/paas-dev/paas/internal/testenv"
	"github.com/paas-dev/paas/sandbox"
	"github.com/paas-dev/paas/stacks"
)

// A deploy runs its image's app.json cron entries as one-off processes of
// the image, on the deploy's clock, beside a formation without a proxy.
func TestServeRunsCron(t *testing.T) {
	testenv.Require(t, testenv.Stack)
	ctx := context.Background()
	dir := t.TempDir()
	t.Cleanup(func() { _ = sandbox.RemoveAll(dir) })
	h, err := home.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	quiet := console.New(&bytes.Buffer{}, true)
	if err := stacks.ImportInto(ctx, h, "test", testenv.StackTar(t), quiet); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(t.TempDir(), "app")
	if err := os.CopyFS(app, os.DirFS(testenv.Fixture("apps", "hello"))); err != nil {
		t.Fatal(err)
	}
	appJSON := `{"cron": [{"command": "echo cron ran as $PAAS_PROCESS_TYPE with $GREETING", "schedule": "*/5 * * * *"}]}`
	if err := os.WriteFile(filepath.Join(app, "app.json"), []byte(appJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := builder.Build(ctx, h, builder.Options{
		AppDir: app, Tag: "cron", Stack: "test", Console: quiet,
		Buildpacks: []string{testenv.Fixture("buildpacks", "hello")},
	}); err != nil {
		t.Fatal(err)
	}

	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 3, 0, 0, time.UTC), waits: make(chan fakeWait)}
	out, log := console.NewTail(100), console.NewTail(100)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- Serve(serveCtx, h, ln, Options{
			Image: "cron", Process: "worker", Runtime: RuntimeSandbox, Clock: clock,
			StopTimeout: 5 * time.Second, Console: console.New(log, false), Stdout: out, Stderr: out,
		})
	}()
	clock.tick(t, 2*time.Minute)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(strings.Join(out.Lines(), "\n"), "cron.1 | cron ran as") {
		if time.Now().After(deadline) {
			t.Fatalf("the cron entry did not run:\n%s\n%s", strings.Join(log.Lines(), "\n"), strings.Join(out.Lines(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if all := strings.Join(out.Lines(), "\n"); !strings.Contains(all, "with hello") {
		t.Errorf("the cron run lacked the image's environment:\n%s", all)
	}
	go func() {
		for w := range clock.waits {
			w.fire <- time.Time{}
		}
	}()
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve() = %v", err)
	}
	if all := strings.Join(log.Lines(), "\n"); !strings.Contains(all, "no web process, so no proxy") || !strings.Contains(all, "cron.1: done in") {
		t.Errorf("log:\n%s", all)
	}
}
