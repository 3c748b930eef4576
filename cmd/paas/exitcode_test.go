package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paas-dev/paas/fault"
	"github.com/paas-dev/paas/internal/testenv"
)

// Exit codes by name, for the tests; fault owns the numbers.
var (
	exitUsage     = fault.Usage.ExitCode()
	exitApp       = fault.App.ExitCode()
	exitStack     = fault.Stack.ExitCode()
	exitSandbox   = fault.Sandbox.ExitCode()
	exitNotFound  = fault.NotFound.ExitCode()
	exitDetect    = fault.Detect.ExitCode()
	exitBuildpack = fault.Buildpack.ExitCode()
	exitCompile   = fault.Compile.ExitCode()
	exitRelease   = fault.Release.ExitCode()
	exitProcfile  = fault.Procfile.ExitCode()
	exitTimeout   = fault.Timeout.ExitCode()
	exitDiskFull  = fault.DiskFull.ExitCode()
	exitNotReady  = fault.NotReady.ExitCode()
)

// Every code of SPEC.md's table is a class of fault, and every class has a
// code there.
func TestExitCodesMatchSpec(t *testing.T) {
	spec := specExitCodes(t)
	kinds := map[int]fault.Kind{}
	for _, k := range fault.Kinds() {
		kinds[k.ExitCode()] = k
	}
	for code, meaning := range spec {
		if _, ok := kinds[code]; !ok {
			t.Errorf("SPEC.md lists exit %d (%s), but no fault.Kind has it", code, meaning)
		}
	}
	for code, k := range kinds {
		if _, ok := spec[code]; !ok {
			t.Errorf("fault.Kind %q exits %d, which SPEC.md's table does not list", k, code)
		}
	}
}

// specExitCodes reads SPEC.md's exit code table: each code and its meaning,
// leaving out 0 (success) and N (a one-off command's own status), which are
// no failure class.
func specExitCodes(t *testing.T) map[int]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Exit codes\n")
	if !ok {
		t.Fatal(`SPEC.md has no "### Exit codes" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	row := regexp.MustCompile(`(?m)^\| *(\d+|N) *\| *(.*?) *\|$`)
	codes := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		code, err := strconv.Atoi(m[1])
		if err != nil || code == 0 {
			continue
		}
		codes[code] = m[2]
	}
	if len(codes) < 10 {
		t.Fatalf("read %d exit codes from SPEC.md, want its whole table: %v", len(codes), codes)
	}
	return codes
}

// A one-off command's status is paas's, unless paas was interrupted.
func TestExitCodeOfOneOff(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"command's status", exitCodeError{7}, 7},
		{"interrupted", fmt.Errorf("%w: %w", errInterrupted, exitCodeError{143}), fault.Interrupted.ExitCode()},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
