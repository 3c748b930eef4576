package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paas-dev/paas/sandbox"
)

// unpackImage unpacks an image's layers into a root filesystem the way the
// sandbox runtime does: owned through the sandbox's id mapping.
func unpackImage(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	t.Cleanup(func() { sandbox.RemoveAll(dir) })
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		err = sandbox.Unpack(context.Background(), rc, dir)
		rc.Close()
		if err != nil {
			t.Fatalf("unpacking layer: %v", err)
		}
	}
	return dir
}

// launchImage runs the image's entrypoint with args in a sandbox on its rootfs,
// as the image's user, with the image's environment.
func launchImage(ctx context.Context, t *testing.T, img v1.Image, rootfs string, env []string, stdout io.Writer, args ...string) error {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{Root: rootfs, Upper: t.TempDir(), Network: sandbox.NetworkHost})
	if err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 {
		args = cf.Config.Cmd
	}
	return sb.Run(ctx, &sandbox.Cmd{
		Args:   append(cf.Config.Entrypoint, args...),
		Env:    append(cf.Config.Env, env...),
		Dir:    cf.Config.WorkingDir,
		Stdout: stdout,
		Stderr: os.Stderr,
		UID:    1000,
		GID:    1000,
	})
}

// The launcher applies .profile.d, HOME, PORT and the config vars, then
// runs a process type through the shell or any command as given.
func TestLauncher(t *testing.T) {
	h := sharedHome(t, root)
	r := h.mustBuild(t, "-t", "launcher", "-b", buildpackDir("hello"), appCopy(t, root, "hello"))
	img := storedImage(t, h, r.Image)
	rootfs := unpackImage(t, img)
	ctx := context.Background()

	var out strings.Builder
	if err := launchImage(ctx, t, img, rootfs, nil, &out, "sh", "-c", "env; id -u; pwd"); err != nil {
		t.Fatalf("launcher env: %v", err)
	}
	got := out.String()
	for _, want := range []string{"GREETING=hello", "HOME=/app", "PORT=5000", "HELLO_RELEASED=yes", "\n1000\n", "/app\n"} {
		contains(t, "launcher env", got, want)
	}

	port := freePort(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- launchImage(ctx, t, img, rootfs, []string{"PORT=" + port}, io.Discard) }()
	body := getWhenUp(t, "http://127.0.0.1:"+port+"/hi", done)
	contains(t, "web response", body, "Hello from paas")
	contains(t, "web response", body, "greeting=hello")
	contains(t, "web response", body, "path=/hi")
	cancel()
	<-done

	pr, pw := io.Pipe()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { launchImage(ctx2, t, img, rootfs, nil, pw, "worker"); pw.Close() }()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	cancel2()
	if strings.TrimSpace(line) != "worker hello" {
		t.Errorf("worker printed %q, want %q", line, "worker hello")
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// getWhenUp polls url until it answers or the process ends (bounded).
func getWhenUp(t *testing.T, url string, done <-chan error) string {
	t.Helper()
	for i := 0; i < 300; i++ {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		select {
		case err := <-done:
			t.Fatalf("process ended before answering: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s never answered", url)
	return ""
}
