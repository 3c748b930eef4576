package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/paas-dev/paas/internal/testenv"
)

// addressEnv passes the test daemon's socket to helper copies of the test
// binary.
const addressEnv = "PAAS_RUNNER_TEST_CONTAINERD"

func TestContainerd(t *testing.T) {
	testenv.Require(t, testenv.Daemon|testenv.Stack)
	address := testenv.Containerd(t)
	const namespace = "runner-test"
	rt := newContainerd(t, address, namespace)
	testBehaviour(t, suite{
		rt:        rt,
		idPrefix:  "ctr",
		uid:       "1000:1000",
		leftovers: containerdLeftovers(newClient(t, address, namespace)),
	})
}

func newContainerd(t *testing.T, address, namespace string) Runtime {
	t.Helper()
	rt, err := NewContainerd(t.Context(), address, namespace)
	if err != nil {
		t.Fatalf("NewContainerd(%s) = %v, want a runtime", address, err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	if got, want := rt.Name(), "containerd"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	return rt
}

// newClient returns a containerd client of its own for the tests' checks.
func newClient(t *testing.T, address, namespace string) *client.Client {
	t.Helper()
	c, err := client.New(address, client.WithDefaultNamespace(namespace))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// containerdLeftovers fails a test if containerd has a container, a task
// or a snapshot of the process id.
func containerdLeftovers(c *client.Client) func(t *testing.T, id string) {
	return func(t *testing.T, id string) {
		t.Helper()
		ctx := context.Background()
		ctrs, err := c.Containers(ctx, "id=="+id)
		if err != nil || len(ctrs) != 0 {
			t.Errorf("Containers(id==%s) = %d containers, %v; want none", id, len(ctrs), err)
		}
		resp, err := c.TaskService().List(ctx, &tasks.ListTasksRequest{})
		if err != nil {
			t.Fatalf("listing tasks: %v", err)
		}
		for _, task := range resp.Tasks {
			if task.ID == id {
				t.Errorf("task %s is left: %v", id, task)
			}
		}
		err = c.SnapshotService(snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			if info.Name == snapshotKey(id) {
				t.Errorf("snapshot %s is left", info.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("listing snapshots: %v", err)
		}
	}
}

// TestContainerdImportOnce starts an image with a layer new to containerd
// twice: the first start writes that layer, the second finds everything
// there and opens no layer; the image record stays after Stop.
func TestContainerdImportOnce(t *testing.T) {
	testenv.Require(t, testenv.Daemon|testenv.Stack)
	address := testenv.Containerd(t)
	const namespace = "runner-test-import"
	rt := newContainerd(t, address, namespace)
	opened := &atomic.Int64{}
	img := countingImage{uniqueImage(t), opened}
	for i, wantOpened := range []bool{true, false} {
		before := opened.Load()
		spec := Spec{ID: fmt.Sprintf("import-%d", i), Image: img, ImageName: "runner-import:latest", Args: []string{"true"}}
		p, err := rt.Start(t.Context(), spec)
		if err != nil {
			t.Fatalf("Start() #%d = %v, want a process", i+1, err)
		}
		<-p.Done()
		if err := p.Stop(t.Context(), killTimeout); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
		if got := opened.Load() > before; got != wantOpened {
			t.Errorf("Start() #%d opened layers: %v, want %v", i+1, got, wantOpened)
		}
	}
	c := newClient(t, address, namespace)
	if _, err := c.GetImage(t.Context(), "runner-import:latest"); err != nil {
		t.Errorf("GetImage() after Stop = %v, want the image kept", err)
	}
}

// TestNewContainerdUnreachable checks that NewContainerd reports sockets
// that do not answer as ErrUnreachable.
func TestNewContainerdUnreachable(t *testing.T) {
	if address := os.Getenv(addressEnv); address != "" {
		// A helper run as an ordinary user: the daemon's socket is root's.
		checkUnreachable(t, address, "permission denied")
		return
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		address string
		want    string
	}{
		{"missing", filepath.Join(dir, "missing.sock"), "no such file"},
		{"not a socket", file, "connection refused"},
		// gRPC reports either its connect timeout or the call's deadline.
		{"silent", silentSocket(t, filepath.Join(dir, "silent.sock")), "silent.sock"},
		{"unix scheme", "unix://" + filepath.Join(dir, "missing.sock"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkUnreachable(t, tt.address, tt.want)
		})
	}
}

func checkUnreachable(t *testing.T, address, want string) {
	t.Helper()
	rt, err := NewContainerd(t.Context(), address, "")
	if err == nil {
		rt.Close()
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), want) {
		t.Errorf("NewContainerd(%s) = %v, want %v mentioning %q", address, err, ErrUnreachable, want)
	}
}

// silentSocket listens on path and accepts connections but never answers.
func silentSocket(t *testing.T, path string) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return path
}

// TestContainerdPermissionDenied runs NewContainerd as an ordinary user
// against the test daemon, whose socket only root may use.
func TestContainerdPermissionDenied(t *testing.T) {
	testenv.Require(t, testenv.Daemon|testenv.Root)
	address := testenv.Containerd(t)
	uid, gid := testenv.Unprivileged(t)
	out, err := runAs(t, uid, gid, []string{addressEnv + "=" + address},
		"-test.run=^TestNewContainerdUnreachable$", "-test.v", "-test.count=1")
	if err != nil || !strings.Contains(out, "--- PASS: TestNewContainerdUnreachable") {
		t.Fatalf("TestNewContainerdUnreachable as uid %d = %v, want a pass; output:\n%s", uid, err, out)
	}
}
