package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// stopTimeout is a grace period long enough that any process that handles
// SIGTERM exits within it; tests that want SIGKILL use killTimeout.
const (
	stopTimeout = time.Minute
	killTimeout = 100 * time.Millisecond
)

// suite is what the runtime-independent tests need to know of a runtime.
type suite struct {
	rt Runtime
	// idPrefix keeps process ids of concurrent suites apart.
	idPrefix string
	// uid is what `id -u`:`id -g` prints in the app's processes.
	uid string
	// leftovers fails the test if the runtime kept anything of process id.
	leftovers func(t *testing.T, id string)
}

// testBehaviour runs every test that holds for all runtimes.
func testBehaviour(t *testing.T, s suite) {
	t.Run("Exit", func(t *testing.T) { testExit(t, s) })
	t.Run("Web", func(t *testing.T) { t.Parallel(); testWeb(t, s) })
	t.Run("Stop", func(t *testing.T) { testStop(t, s) })
	t.Run("FailedStart", func(t *testing.T) { t.Parallel(); testFailedStart(t, s) })
	t.Run("DuplicateID", func(t *testing.T) { t.Parallel(); testDuplicateID(t, s) })
}

// started is a process a test started, with its output.
type started struct {
	Process
	stdout, stderr *output
}

// start starts a process of img and stops it when the test ends, should
// the test not have.
func (s suite) start(t *testing.T, name string, img v1.Image, args, env []string) started {
	t.Helper()
	stdout, stderr := newOutput(), newOutput()
	spec := Spec{
		ID: s.idPrefix + "-" + name, Image: img, ImageName: "runner-test:latest",
		Args: args, Env: env, Stdout: stdout, Stderr: stderr,
	}
	p, err := s.rt.Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start(%q) = %v, want a process", args, err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background(), killTimeout) })
	return started{p, stdout, stderr}
}

// stop stops p and checks that the runtime kept nothing of it, and that a
// second Stop is a no-op.
func (s suite) stop(t *testing.T, p Process, timeout time.Duration) {
	t.Helper()
	if err := p.Stop(t.Context(), timeout); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
	if err := p.Stop(t.Context(), timeout); err != nil {
		t.Errorf("second Stop() = %v, want nil", err)
	}
	s.leftovers(t, p.ID())
}

// testExit runs processes to their end: output, environment, user,
// working directory, process types and exit codes, and cleanup after an
// exit.
func testExit(t *testing.T, s suite) {
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantStdout string
		wantStderr string
		want       Exit
	}{{
		name:       "env",
		args:       []string{"sh", "-c", `echo "port=$PORT greeting=$GREETING dir=$(pwd) ids=$(id -u):$(id -g)"; echo oops >&2`},
		env:        []string{"PORT=34567", "GREETING=from-spec"},
		wantStdout: fmt.Sprintf("port=34567 greeting=from-spec dir=/app ids=%s\n", s.uid),
		wantStderr: "oops\n",
	}, {
		// /app belongs to the image's user, as in the image.
		name:       "app-writable",
		args:       []string{"sh", "-c", `echo written > /app/out && cat /app/out && stat -c %u:%g /app /app/out`},
		wantStdout: fmt.Sprintf("written\n%[1]s\n%[1]s\n", s.uid),
	}, {
		name:       "image-env",
		args:       []string{"sh", "-c", `echo "$GREETING $PORT"`},
		wantStdout: "from-image 5000\n",
	}, {
		name:       "process-type",
		args:       []string{"worker"},
		wantStdout: "worker worker\n",
	}, {
		name: "exit-code",
		args: []string{"sh", "-c", "exit 3"},
		want: Exit{Code: 3},
	}, {
		name:       "not-found",
		args:       []string{"no-such-command"},
		wantStderr: "no-such-command",
		want:       Exit{Code: 127},
	}}
	img := appImage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := s.start(t, "exit-"+tt.name, img, tt.args, tt.env)
			<-p.Done()
			if got := p.Exit(); got != tt.want {
				t.Errorf("Exit() = %+v, want %+v; stderr:\n%s", got, tt.want, p.stderr)
			}
			if got := p.stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tt.wantStdout)
			}
			if got := p.stderr.String(); !strings.Contains(got, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", got, tt.wantStderr)
			}
			s.stop(t, p, stopTimeout)
		})
	}
}

// testWeb runs the image's default process, the web server, on a PORT of
// the host's network, and asks it for a page.
func testWeb(t *testing.T, s suite) {
	port := freePort(t)
	p := s.start(t, "web", appImage(t), nil, []string{fmt.Sprintf("PORT=%d", port)})
	p.stdout.waitFor(t, p, "listening on")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET from the web process = %v; stderr:\n%s", err, p.stderr)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "hello from web\n" {
		t.Errorf("GET from the web process = %q, %v, want %q", body, err, "hello from web\n")
	}
	s.stop(t, p, stopTimeout)
	if got, want := p.Exit(), (Exit{}); got != want {
		t.Errorf("Exit() after Stop = %+v, want %+v; stdout:\n%s", got, want, p.stdout)
	}
}

// testStop stops running processes: one that exits on SIGTERM, and one
// that ignores it and is killed after the timeout.
func testStop(t *testing.T, s suite) {
	tests := []struct {
		name       string
		script     string
		timeout    time.Duration
		want       Exit
		wantStdout string
	}{{
		name:       "term",
		script:     `trap 'echo got TERM; exit 0' TERM; echo ready; sleep 1000 & wait`,
		timeout:    stopTimeout,
		wantStdout: "ready\ngot TERM\n",
	}, {
		name:       "kill",
		script:     `trap '' TERM; echo ready; sleep 1000 & wait`,
		timeout:    killTimeout,
		want:       Exit{Code: 137, Signal: "SIGKILL"},
		wantStdout: "ready\n",
	}}
	img := appImage(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := s.start(t, "stop-"+tt.name, img, []string{"sh", "-c", tt.script}, nil)
			p.stdout.waitFor(t, p, "ready")
			s.stop(t, p, tt.timeout)
			if got := p.Exit(); got != tt.want {
				t.Errorf("Exit() = %+v, want %+v", got, tt.want)
			}
			if got := p.stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tt.wantStdout)
			}
		})
	}
}

// testFailedStart starts a command the image does not have, without the
// launcher that would report it: Start fails and leaves nothing behind.
func testFailedStart(t *testing.T, s suite) {
	id := s.idPrefix + "-failed"
	spec := Spec{ID: id, Image: plainImage(t), ImageName: "runner-test-plain:latest", Args: []string{"/no/such/command"}}
	if p, err := s.rt.Start(t.Context(), spec); err == nil {
		p.Stop(context.Background(), killTimeout)
		t.Fatalf("Start(%q) = %v, want an error", spec.Args, p)
	}
	s.leftovers(t, id)
}

// testDuplicateID starts a process with the id of a running one: Start
// fails and the running process is untouched.
func testDuplicateID(t *testing.T, s suite) {
	img := appImage(t)
	p := s.start(t, "dup", img, []string{"sh", "-c", "echo ready; sleep 1000"}, nil)
	p.stdout.waitFor(t, p, "ready")
	spec := Spec{ID: p.ID(), Image: img, ImageName: "runner-test:latest", Args: []string{"true"}}
	if q, err := s.rt.Start(t.Context(), spec); err == nil {
		q.Stop(context.Background(), killTimeout)
		t.Fatalf("Start() with the id of a running process = %v, want an error", q)
	}
	select {
	case <-p.Done():
		t.Fatalf("the running process exited (%+v) when another Start used its id", p.Exit())
	default:
	}
	s.stop(t, p, killTimeout)
}
