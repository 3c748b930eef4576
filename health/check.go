package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Check types, the values of app.json's `type` field.
const (
	TypeStartup   = "startup"   // must pass before the process gets traffic
	TypeReadiness = "readiness" // paas treats it like startup: also checked before traffic
	TypeLiveness  = "liveness"  // periodic checks of a running process; paas does not run them
)

// Defaults for Check fields left zero, Dokku's values.
const (
	DefaultAttempts = 3
	DefaultTimeout  = 5 * time.Second
	DefaultWait     = 5 * time.Second
	// DefaultUptime is how long a process with no checks must stay up,
	// Dokku's DOKKU_DEFAULT_CHECKS_WAIT.
	DefaultUptime = 10 * time.Second
	// DefaultListenTimeout bounds the wait for the port to accept
	// connections, for apps that load a lot before they listen.
	DefaultListenTimeout = 60 * time.Second
	// DefaultScheme is used when Scheme is empty.
	DefaultScheme = "http"
)

// Check is one readiness condition on a starting process. A check with a
// Path is an HTTP check; one with an Uptime requires the process to have
// stayed up that long; one with both waits for the uptime first. Zero
// numeric fields take the defaults above.
type Check struct {
	Type    string // TypeStartup or TypeReadiness; "" means startup
	Name    string // shown in messages; the Path when empty
	Path    string // HTTP path (and query) to GET, starting with "/"
	Content string // text the 2xx body must contain; "" accepts any body
	Scheme  string // "http" or "https"; https certificates are not verified
	Port    int    // port to check; 0 means the process's own port

	Attempts     int           // tries before the check fails
	Timeout      time.Duration // limit on each try
	Wait         time.Duration // pause between failed tries
	InitialDelay time.Duration // pause before the first try

	// Headers are sent with each request; "Host" sets the request's Host.
	Headers map[string]string
	// Uptime is how long the process must have been up, counted from the
	// moment Wait was called, before the check passes.
	Uptime time.Duration
	// Warn makes a failure a warning, written to the log, not an error.
	Warn bool
}

// PathCheck returns the startup check for `paas run --check PATH`: GET
// path until it answers 2xx, with the default limits.
func PathCheck(path string) Check {
	return Check{Type: TypeStartup, Path: path}.withDefaults()
}

// DefaultCheck returns the check Wait runs when it is given none: the
// process must stay up for DefaultUptime, as with Dokku.
func DefaultCheck() Check {
	return Check{Type: TypeStartup, Name: "uptime", Uptime: DefaultUptime}.withDefaults()
}

// withDefaults returns c with its zero fields filled in.
func (c Check) withDefaults() Check {
	if c.Type == "" {
		c.Type = TypeStartup
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if c.Name == "" {
		c.Name = c.Path
	}
	if c.Scheme == "" {
		c.Scheme = DefaultScheme
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	c.Timeout = orDefault(c.Timeout, DefaultTimeout)
	c.Wait = orDefault(c.Wait, DefaultWait)
	return c
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// label names the check in messages: `startup check "/health"`. It is not
// String, so that %+v still shows every field when debugging.
func (c Check) label() string {
	typ := c.Type
	if typ == "" {
		typ = TypeStartup
	}
	name := c.Name
	if name == "" {
		name = c.Path
	}
	if name == "" {
		return typ + " check"
	}
	return typ + " check " + strconv.Quote(name)
}

// fmtDuration formats d the way people write limits: "60s" where
// Duration.String would say "1m0s"; "500ms" and "1m30s" as usual.
func fmtDuration(d time.Duration) string {
	if d%time.Second == 0 && d < 1000*time.Second {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
