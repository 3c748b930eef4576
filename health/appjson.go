package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paas-dev/paas/appjson"
)

// maxSeconds bounds the second counts in app.json (a day), so a typo
// cannot overflow a time.Duration or park a deploy for years.
const maxSeconds = 24 * 60 * 60

// UnsupportedError lists app.json checks that ParseAppJSON left out
// because paas cannot run them: liveness checks (paas only checks before
// traffic) and command checks (they need a shell inside the process's
// container). The checks ParseAppJSON returns along with it are valid;
// callers print it as a warning and go on.
type UnsupportedError struct {
	Skipped []string // e.g. `startup check "migrations" (command)`
}

// Error lists the skipped checks.
func (e *UnsupportedError) Error() string {
	return "app.json: skipping healthchecks paas cannot run: " + strings.Join(e.Skipped, ", ")
}

// checkJSON is one entry of healthchecks.<process type>, as Dokku reads
// it. Durations are whole seconds.
type checkJSON struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Path         string          `json:"path"`
	Content      string          `json:"content"`
	Scheme       string          `json:"scheme"`
	Port         int             `json:"port"`
	Attempts     int             `json:"attempts"`
	Timeout      int             `json:"timeout"`
	Wait         int             `json:"wait"`
	InitialDelay int             `json:"initialDelay"`
	Uptime       int             `json:"uptime"`
	HTTPHeaders  []headerJSON    `json:"httpHeaders"`
	Listening    bool            `json:"listening"`
	Command      json.RawMessage `json:"command"`
	Warn         bool            `json:"warn"`
}

// headerJSON is one entry of httpHeaders.
type headerJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParseAppJSON returns the startup and readiness checks app.json gives
// for processType, in order, with defaults filled in; nil when it gives
// none, in which case Wait applies DefaultCheck. A `listening` check
// becomes a Check with neither Path nor Uptime, since Wait always waits
// for the port. Unknown fields are ignored.
//
// Liveness and command checks are left out and reported in an
// *UnsupportedError returned together with the valid checks; any other
// error (invalid JSON, a bad value) comes with no checks.
func ParseAppJSON(data []byte, processType string) ([]Check, error) {
	entries, err := healthchecks(data, processType)
	if err != nil {
		return nil, err
	}
	var checks []Check
	var skipped []string
	for i, raw := range entries {
		if name := raw.unsupported(); name != "" {
			skipped = append(skipped, name)
			continue
		}
		if err := raw.validate(); err != nil {
			return nil, fmt.Errorf("app.json healthchecks.%s[%d]: %w", processType, i, err)
		}
		checks = append(checks, raw.convert())
	}
	if len(skipped) > 0 {
		return checks, &UnsupportedError{Skipped: skipped}
	}
	return checks, nil
}

// healthchecks returns app.json's healthchecks.<processType> entries.
func healthchecks(data []byte, processType string) ([]checkJSON, error) {
	m, err := appjson.Parse(data)
	if err != nil || len(m.Healthchecks) == 0 {
		return nil, err
	}
	var all map[string][]checkJSON
	if err := json.Unmarshal(m.Healthchecks, &all); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", appjson.Name, err)
	}
	return all[processType], nil
}

// unsupported names the entry if paas cannot run it, else returns "".
func (j checkJSON) unsupported() string {
	name := Check{Type: j.Type, Name: j.Name, Path: j.Path}.label()
	switch {
	case j.Type == TypeLiveness:
		return name
	case len(j.Command) > 0 && string(j.Command) != "null":
		return name + " (command)"
	}
	return ""
}

// validate rejects values Wait could not use.
func (j checkJSON) validate() error {
	if j.Type != "" && j.Type != TypeStartup && j.Type != TypeReadiness {
		return fmt.Errorf("type %q, want startup, readiness or liveness", j.Type)
	}
	if j.Path == "" && j.Uptime == 0 && !j.Listening {
		return errors.New("nothing to check: want a path, an uptime or listening")
	}
	if j.Scheme != "" && j.Scheme != "http" && j.Scheme != "https" {
		return fmt.Errorf("scheme %q, want http or https", j.Scheme)
	}
	if j.Port < 0 || j.Port > 65535 {
		return fmt.Errorf("port %d out of range", j.Port)
	}
	if j.Attempts < 0 {
		return fmt.Errorf("attempts %d is negative", j.Attempts)
	}
	if err := j.validateSeconds(); err != nil {
		return err
	}
	return j.validateHeaders()
}

// validateSeconds checks each duration is 0 to maxSeconds.
func (j checkJSON) validateSeconds() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"timeout", j.Timeout}, {"wait", j.Wait}, {"initialDelay", j.InitialDelay}, {"uptime", j.Uptime}} {
		if f.v < 0 || f.v > maxSeconds {
			return fmt.Errorf("%s %d out of range 0 to %d seconds", f.name, f.v, maxSeconds)
		}
	}
	return nil
}

// validateHeaders rejects header names and values net/http would refuse
// to send, so the mistake shows now and not as failed attempts.
func (j checkJSON) validateHeaders() error {
	for _, h := range j.HTTPHeaders {
		if h.Name == "" || strings.IndexFunc(h.Name, notTokenChar) >= 0 {
			return fmt.Errorf("httpHeaders name %q is not a valid header name", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return fmt.Errorf("httpHeaders %q value contains a line break or NUL", h.Name)
		}
	}
	return nil
}

// notTokenChar reports whether r may not appear in a header name
// (RFC 9110 token).
func notTokenChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// convert returns the Check for a valid entry, defaults filled in.
func (j checkJSON) convert() Check {
	c := Check{
		Type:         j.Type,
		Name:         j.Name,
		Path:         j.Path,
		Content:      j.Content,
		Scheme:       j.Scheme,
		Port:         j.Port,
		Attempts:     j.Attempts,
		Timeout:      time.Duration(j.Timeout) * time.Second,
		Wait:         time.Duration(j.Wait) * time.Second,
		InitialDelay: time.Duration(j.InitialDelay) * time.Second,
		Uptime:       time.Duration(j.Uptime) * time.Second,
		Warn:         j.Warn,
	}
	if c.Name == "" && j.Path == "" && j.Listening {
		c.Name = "listening"
	}
	for _, h := range j.HTTPHeaders {
		if c.Headers == nil {
			c.Headers = map[string]string{}
		}
		c.Headers[h.Name] = h.Value
	}
	return c.withDefaults()
}
