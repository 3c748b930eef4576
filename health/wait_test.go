package health_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paas-dev/paas/health"
	"github.com/paas-dev/paas/internal/testenv"
)

// Small limits for tests: they are parameters of the code under test, not
// assertions about how long anything takes.
const (
	tryTimeout = 500 * time.Millisecond
	tryWait    = time.Millisecond
	forever    = time.Hour // longer than any test may run: reaching it is a bug
)

// reply answers every request with code and body.
func reply(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// healthyFrom answers 503 until the n-th request, then 200 "ok".
func healthyFrom(n int64) http.HandlerFunc {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) < n {
			reply(http.StatusServiceUnavailable, "warming up")(w, r)
			return
		}
		reply(http.StatusOK, "ok")(w, r)
	}
}

// counting wraps h and counts the requests it gets in n.
func counting(n *atomic.Int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}
}

// httpCheck is a check of path with the test's small limits.
func httpCheck(typ, path, content string, attempts int) health.Check {
	return health.Check{Type: typ, Path: path, Content: content, Attempts: attempts, Timeout: tryTimeout, Wait: tryWait}
}

func TestWaitHTTP(t *testing.T) {
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		check        health.Check
		wantErr      string // "" means Wait passes
		wantRequests int64
	}{{
		name:         "200 passes",
		handler:      reply(http.StatusOK, "ok"),
		check:        httpCheck("", "/health", "", 3),
		wantRequests: 1,
	}, {
		name:         "content found passes",
		handler:      reply(http.StatusOK, "<h1>Welcome to the shop</h1>"),
		check:        httpCheck("startup", "/", "Welcome", 3),
		wantRequests: 1,
	}, {
		name:         "healthy on the third attempt passes",
		handler:      healthyFrom(3),
		check:        httpCheck("readiness", "/health", "", 3),
		wantRequests: 3,
	}, {
		name:         "content missing fails after every attempt",
		handler:      reply(http.StatusOK, "Maintenance"),
		check:        httpCheck("startup", "/", "Welcome", 4),
		wantErr:      `startup check "/" failed 4 times: last answer 200 OK did not contain "Welcome": "Maintenance"`,
		wantRequests: 4,
	}, {
		name:         "server error fails",
		handler:      reply(http.StatusInternalServerError, ""),
		check:        httpCheck("readiness", "/health", "", 3),
		wantErr:      `readiness check "/health" failed 3 times: last answer 500 Internal Server Error`,
		wantRequests: 3,
	}, {
		name: "redirect is not followed",
		handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		},
		check:        httpCheck("startup", "/health", "", 1),
		wantErr:      `startup check "/health" failed 1 time: last answer 302 Found to "/login" (redirects are not followed)`,
		wantRequests: 1,
	}, {
		name: "slow answer times out",
		handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		},
		check:        health.Check{Name: "slow", Path: "/slow", Attempts: 2, Timeout: 20 * time.Millisecond, Wait: tryWait},
		wantErr:      `startup check "slow" failed 2 times: last attempt got no answer within 20ms`,
		wantRequests: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			addr := testenv.Serve(t, counting(&n, tt.handler))
			err := health.Wait(context.Background(), addr, []health.Check{tt.check}, nil)
			checkErr(t, err, tt.wantErr)
			if got := n.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

// checkErr compares err's message with want; "" means no error.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" && err != nil {
		t.Errorf("Wait() = %v, want nil", err)
	}
	if want != "" && (err == nil || err.Error() != want) {
		t.Errorf("Wait() = %v, want %s", err, want)
	}
}

func TestWaitSendsHeaders(t *testing.T) {
	addr := testenv.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "shop.example.com" || r.Header.Get("X-Forwarded-Proto") != "https" {
			http.Error(w, "wrong host or proto", http.StatusBadRequest)
		}
	}))
	c := httpCheck("", "/health", "", 1)
	c.Headers = map[string]string{"Host": "shop.example.com", "X-Forwarded-Proto": "https"}
	if err := health.Wait(context.Background(), addr, []health.Check{c}, nil); err != nil {
		t.Errorf("Wait() = %v, want nil", err)
	}
}

func TestWaitFailedStatus(t *testing.T) {
	addr := testenv.Serve(t, reply(http.StatusServiceUnavailable, "database\nis down"))
	err := health.Wait(context.Background(), addr, []health.Check{httpCheck("", "/health", "", 2)}, nil)
	var st *health.Status
	if !errors.As(err, &st) {
		t.Fatalf("Wait() = %v, want a *health.Status", err)
	}
	if st.Attempts != 2 || st.Code != http.StatusServiceUnavailable || st.Body != "database is down" {
		t.Errorf("Status = %d attempts, code %d, body %q; want 2, 503, %q", st.Attempts, st.Code, st.Body, "database is down")
	}
}

func TestWaitStopsWhenProcessExits(t *testing.T) {
	exited := make(chan struct{})
	var n atomic.Int64
	addr := testenv.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(exited) // the process dies while the first attempt runs
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	c := health.Check{Path: "/health", Attempts: 5, Timeout: tryTimeout, Wait: forever}
	err := health.Wait(context.Background(), addr, []health.Check{c}, exited)
	if !errors.Is(err, health.ErrExited) {
		t.Fatalf("Wait() = %v, want health.ErrExited", err)
	}
	want := `process exited during startup check "/health" (1 of 5 attempts made)`
	if err.Error() != want {
		t.Errorf("Wait() = %v, want %s", err, want)
	}
}

func TestWaitListening(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name    string
		exited  <-chan struct{}
		timeout time.Duration
		want    error
		wantMsg string
	}{{
		name:    "nobody listens",
		timeout: 50 * time.Millisecond,
		want:    health.ErrNotListening,
		wantMsg: "never accepted connections within 50ms",
	}, {
		name:    "process exited",
		exited:  closed,
		timeout: forever,
		want:    health.ErrExited,
		wantMsg: "process exited before port",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := testenv.ClosedAddr(t)
			_, port, _ := net.SplitHostPort(addr)
			err := health.Wait(context.Background(), addr, nil, tt.exited, health.WithListenTimeout(tt.timeout))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), port) {
				t.Errorf("Wait() = %v, want %v mentioning port %s and %q", err, tt.want, port, tt.wantMsg)
			}
		})
	}
}

func TestWaitUptime(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name   string
		uptime time.Duration
		exited <-chan struct{}
		want   error
	}{
		{name: "stays up", uptime: 20 * time.Millisecond},
		{name: "exits", uptime: forever, exited: closed, want: health.ErrExited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := testenv.Serve(t, reply(http.StatusOK, "ok"))
			c := health.Check{Name: "uptime", Uptime: tt.uptime}
			err := health.Wait(context.Background(), addr, []health.Check{c}, tt.exited)
			if !errors.Is(err, tt.want) {
				t.Errorf("Wait() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWaitWarnCheckOnlyLogs(t *testing.T) {
	addr := testenv.Serve(t, reply(http.StatusInternalServerError, ""))
	c := httpCheck("", "/optional", "", 1)
	c.Warn = true
	var log strings.Builder
	if err := health.Wait(context.Background(), addr, []health.Check{c}, nil, health.WithLog(&log)); err != nil {
		t.Errorf("Wait() = %v, want nil for a warn check", err)
	}
	if !strings.Contains(log.String(), `warning: startup check "/optional" failed 1 time`) {
		t.Errorf("log = %q, want a warning for the failed check", log.String())
	}
}

func TestPathCheck(t *testing.T) {
	want := health.Check{
		Type: health.TypeStartup, Name: "/health", Path: "/health", Scheme: "http",
		Attempts: health.DefaultAttempts, Timeout: health.DefaultTimeout, Wait: health.DefaultWait,
	}
	if got := health.PathCheck("/health"); !equalChecks([]health.Check{got}, []health.Check{want}) {
		t.Errorf("PathCheck() = %+v, want %+v", got, want)
	}
}

func TestWaitRefusesInvalidOptions(t *testing.T) {
	for _, opt := range []health.Option{health.WithListenTimeout(0), health.WithLog(nil)} {
		err := health.Wait(context.Background(), "127.0.0.1:1", nil, nil, opt)
		if !errors.Is(err, health.ErrInvalidOption) {
			t.Errorf("Wait with an invalid option = %v, want ErrInvalidOption", err)
		}
	}
}
