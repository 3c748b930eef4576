package deploy

import (
	"fmt"
	"strings"
	"time"
)

// Unit describes the systemd service SystemdUnit writes.
type Unit struct {
	// Exe is paas's absolute path; Home its $PAAS_HOME.
	Exe, Home string
	// Image names what runs, for the description.
	Image string
	// RunArgs are the arguments of `paas run`, IMAGE among them.
	RunArgs []string
	// User runs the service; "" is root.
	User string
	// StopTimeout is paas run's --stop-timeout.
	StopTimeout time.Duration
}

// SystemdUnit returns a unit that keeps `paas run RunArgs` serving across
// reboots with no daemon of paas's: systemd starts it at boot, knows it is
// up when every process of the formation passed its checks (Type=notify,
// see notify), restarts it when it fails, reloads it with SIGHUP (a
// zero-downtime replacement) and stops it with SIGTERM, giving it the time
// its processes get to stop.
func SystemdUnit(u Unit) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# paas run %s as a systemd service. Install it as", u.Image)
	line("# /etc/systemd/system/NAME.service, then: systemctl daemon-reload && systemctl enable --now NAME")
	line("[Unit]")
	line("Description=paas: %s", u.Image)
	line("Wants=network-online.target")
	line("After=network-online.target containerd.service")
	line("")
	line("[Service]")
	line("Type=notify")
	line("NotifyAccess=main")
	if u.User != "" {
		line("User=%s", u.User)
	}
	line("Environment=%s", systemdQuote("PAAS_HOME="+u.Home))
	args := make([]string, 0, len(u.RunArgs)+2)
	for _, a := range append([]string{u.Exe, "run"}, u.RunArgs...) {
		args = append(args, systemdQuote(a))
	}
	line("ExecStart=%s", strings.Join(args, " "))
	line("ExecReload=/bin/kill -HUP $MAINPID")
	// paas run stops its processes itself on SIGTERM; the rest of the
	// group is killed only if it has not when the time is up.
	line("KillMode=mixed")
	line("TimeoutStartSec=15min")
	line("TimeoutStopSec=%d", int((u.StopTimeout + time.Minute).Seconds()))
	line("Restart=on-failure")
	line("RestartSec=5")
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String()
}

// systemdQuote quotes a word of a unit's command line or assignment: in
// double quotes when it holds a space, quote or backslash, with % and $
// doubled so that systemd expands neither specifiers nor variables.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
