package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// paas generate systemd prints a notify unit whose ExecStart is paas run
// with the flags given, quoted for systemd; systemd-analyze accepts it
// where it is installed. Flags paas run refuses are refused.
func TestGenerateSystemd(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PAAS_HOME", home)
	var out, errOut bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errOut}
	args := []string{"generate", "systemd", "-p", "80", "-e", "GREETING=hi there $HOME 100%", "--scale", "web=2", "app:v1"}
	if err := dispatch(context.Background(), env, args); err != nil {
		t.Fatalf("paas generate systemd: %v\n%s", err, errOut.String())
	}
	unit := out.String()
	exe, err := executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify\n",
		"Environment=PAAS_HOME=" + home + "\n",
		"ExecStart=" + exe + ` run -p 80 -e "GREETING=hi there $$HOME 100%%" --scale web=2 app:v1` + "\n",
		"ExecReload=/bin/kill -HUP $MAINPID\n",
		"TimeoutStopSec=90\n",
		"Restart=on-failure\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		path := filepath.Join(t.TempDir(), "paas-app.service")
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil && strings.Contains(string(msg), "paas-app.service") {
			t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, msg, unit)
		}
	} else {
		t.Log("systemd-analyze is not installed: the unit is checked by its text only")
	}

	for _, bad := range [][]string{
		{"generate", "upstart", "app"},
		{"generate", "systemd", "--replace", "app"},
		{"generate", "systemd", "app", "--", "ls"},
		{"generate", "systemd", "--env-file", "relative.env", "app"},
		{"generate", "systemd", "--scale", "web", "app"},
	} {
		err := dispatch(context.Background(), env, bad)
		if code := exitCode(err); code != exitUsage {
			t.Errorf("%q: exit %d (%v), want %d", bad, code, err, exitUsage)
		}
	}
}
