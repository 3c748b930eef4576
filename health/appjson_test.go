package health_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paas-dev/paas/health"
)

// dokkuAppJSON is an app.json as a Dokku user writes it, with checks paas
// runs, checks it skips, and keys that are not about checks.
const dokkuAppJSON = `{
  "name": "shop",
  "description": "An online shop",
  "scripts": {"dokku": {"predeploy": "bundle exec rake db:migrate"}},
  "formation": {"web": {"quantity": 2}, "worker": {"quantity": 1}},
  "cron": [{"command": "bin/cleanup", "schedule": "@daily"}],
  "healthchecks": {
    "web": [
      {
        "type": "startup",
        "name": "web check",
        "description": "Checking if the app responds to /health/ready",
        "path": "/health/ready",
        "content": "ok",
        "attempts": 5,
        "timeout": 2,
        "wait": 1,
        "initialDelay": 3,
        "httpHeaders": [
          {"name": "Host", "value": "shop.example.com"},
          {"name": "X-Forwarded-Proto", "value": "https"}
        ]
      },
      {"type": "readiness", "path": "/ready", "port": 5001, "scheme": "https", "warn": true},
      {"type": "liveness", "name": "alive", "path": "/alive"},
      {"type": "startup", "name": "migrations", "command": ["/app/bin/check-migrations"]},
      {"uptime": 15},
      {"type": "startup", "listening": true}
    ],
    "worker": [{"type": "startup", "name": "worker up", "uptime": 5}]
  }
}`

// withDefaults is c with the defaults an app.json entry gets.
func withDefaults(c health.Check) health.Check {
	if c.Type == "" {
		c.Type = health.TypeStartup
	}
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	if c.Attempts == 0 {
		c.Attempts = health.DefaultAttempts
	}
	if c.Timeout == 0 {
		c.Timeout = health.DefaultTimeout
	}
	if c.Wait == 0 {
		c.Wait = health.DefaultWait
	}
	return c
}

func TestParseAppJSON(t *testing.T) {
	tests := []struct {
		name        string
		data        string
		processType string
		want        []health.Check
		wantSkipped []string
		wantErr     string
	}{{
		name:        "dokku web checks",
		data:        dokkuAppJSON,
		processType: "web",
		want: []health.Check{
			withDefaults(health.Check{
				Type: "startup", Name: "web check", Path: "/health/ready", Content: "ok",
				Attempts: 5, Timeout: 2 * time.Second, Wait: time.Second, InitialDelay: 3 * time.Second,
				Headers: map[string]string{"Host": "shop.example.com", "X-Forwarded-Proto": "https"},
			}),
			withDefaults(health.Check{Type: "readiness", Name: "/ready", Path: "/ready", Port: 5001, Scheme: "https", Warn: true}),
			withDefaults(health.Check{Uptime: 15 * time.Second}),
			withDefaults(health.Check{Name: "listening"}),
		},
		wantSkipped: []string{`liveness check "alive"`, `startup check "migrations" (command)`},
	}, {
		name:        "dokku worker checks",
		data:        dokkuAppJSON,
		processType: "worker",
		want:        []health.Check{withDefaults(health.Check{Name: "worker up", Uptime: 5 * time.Second})},
	}, {
		name:        "process type without checks",
		data:        dokkuAppJSON,
		processType: "release",
	}, {
		name:        "no healthchecks key",
		data:        `{"name": "shop"}`,
		processType: "web",
	}, {
		name:        "path without slash",
		data:        `{"healthchecks": {"web": [{"path": "health"}]}}`,
		processType: "web",
		want:        []health.Check{withDefaults(health.Check{Name: "/health", Path: "/health"})},
	}, {
		name:        "invalid JSON",
		data:        `{"healthchecks": {"web": [}`,
		processType: "web",
		wantErr:     "parsing app.json: invalid character",
	}, {
		name:        "wrong value type",
		data:        `{"healthchecks": {"web": [{"path": "/", "attempts": "3"}]}}`,
		processType: "web",
		wantErr:     "parsing app.json: json: cannot unmarshal string",
	}, {
		name:        "unknown check type",
		data:        `{"healthchecks": {"web": [{"type": "smoke", "path": "/"}]}}`,
		processType: "web",
		wantErr:     `app.json healthchecks.web[0]: type "smoke", want startup, readiness or liveness`,
	}, {
		name:        "negative timeout",
		data:        `{"healthchecks": {"web": [{"path": "/", "timeout": -1}]}}`,
		processType: "web",
		wantErr:     "app.json healthchecks.web[0]: timeout -1 out of range",
	}, {
		name:        "nothing to check",
		data:        `{"healthchecks": {"web": [{"name": "empty"}]}}`,
		processType: "web",
		wantErr:     "app.json healthchecks.web[0]: nothing to check",
	}, {
		name:        "bad header name",
		data:        `{"healthchecks": {"web": [{"path": "/", "httpHeaders": [{"name": "X Bad", "value": "1"}]}]}}`,
		processType: "web",
		wantErr:     `app.json healthchecks.web[0]: httpHeaders name "X Bad" is not a valid header name`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := health.ParseAppJSON([]byte(tt.data), tt.processType)
			var skipped *health.UnsupportedError
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAppJSON() error = %v, want one starting %q", err, tt.wantErr)
				}
			case errors.As(err, &skipped):
				if !reflect.DeepEqual(skipped.Skipped, tt.wantSkipped) {
					t.Errorf("ParseAppJSON() skipped = %q, want %q", skipped.Skipped, tt.wantSkipped)
				}
			case err != nil || tt.wantSkipped != nil:
				t.Fatalf("ParseAppJSON() error = %v, want skipped %q", err, tt.wantSkipped)
			}
			if !equalChecks(got, tt.want) {
				t.Errorf("ParseAppJSON() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// equalChecks compares check lists, nil equal to empty.
func equalChecks(a, b []health.Check) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func FuzzParseAppJSON(f *testing.F) {
	f.Add([]byte(dokkuAppJSON), "web")
	f.Add([]byte(`{"healthchecks": {"web": [{"path": "/", "timeout": 99999999999}]}}`), "web")
	f.Add([]byte(`{"healthchecks": {"web": [{"command": null, "uptime": 1}]}}`), "web")
	f.Add([]byte(`{"healthchecks": null}`), "")
	f.Add([]byte(`[]`), "web")
	f.Fuzz(func(t *testing.T, data []byte, processType string) {
		checks, err := health.ParseAppJSON(data, processType)
		var skipped *health.UnsupportedError
		if err != nil && !errors.As(err, &skipped) && checks != nil {
			t.Fatalf("ParseAppJSON() = %d checks with error %v, want none", len(checks), err)
		}
		for _, c := range checks {
			if c.Attempts <= 0 || c.Timeout <= 0 || c.Wait <= 0 || c.Uptime < 0 || c.InitialDelay < 0 {
				t.Errorf("ParseAppJSON() check %+v has a limit Wait cannot use", c)
			}
			if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
				t.Errorf("ParseAppJSON() check path %q, want a leading /", c.Path)
			}
		}
	})
}
