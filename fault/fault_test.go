package fault_test

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/fault"
)

var (
	errStack   = fault.New(fault.Stack, "stack problem")
	errSandbox = fault.New(fault.Sandbox, "sandbox unavailable")
	errCompile = fault.New(fault.Compile, "compile failed")
	errStop    = fault.New(fault.Interrupted, "interrupted")
)

// selfClassified is an error type that carries its class itself.
type selfClassified struct{}

func (selfClassified) Error() string    { return "bad flag" }
func (selfClassified) Kind() fault.Kind { return fault.Usage }

// multi wraps several errors, as errors.Join and fmt.Errorf with two %w do.
type multi []error

func (m multi) Error() string   { return "several" }
func (m multi) Unwrap() []error { return m }

func TestKindOf(t *testing.T) {
	enospc := &fs.PathError{Op: "write", Path: "/home/blob", Err: syscall.ENOSPC}
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"nil", nil, fault.Failure},
		{"unclassified", errors.New("boom"), fault.Failure},
		{"sentinel", errStack, fault.Stack},
		{"wrapped sentinel", fmt.Errorf("importing: %w", errStack), fault.Stack},
		{"own type", fmt.Errorf("parsing: %w", selfClassified{}), fault.Usage},
		{"outermost decides", fmt.Errorf("%w: unpacking: %w", errStack, errSandbox), fault.Stack},
		{"outermost decides, nested", fmt.Errorf("%w: %w", errCompile, fmt.Errorf("running: %w", errSandbox)), fault.Compile},
		{"first of a join", multi{errors.New("x"), errCompile, errStack}, fault.Compile},
		{"ENOSPC alone", enospc, fault.DiskFull},
		{"ENOSPC beneath a class", fmt.Errorf("%w: importing: %w", errStack, enospc), fault.DiskFull},
		{"ENOSPC in a join", multi{errStack, multi{errors.New("x"), enospc}}, fault.DiskFull},
		{"ENOSPC beneath Sandbox", fmt.Errorf("%w: cannot create user namespaces (%w)", errSandbox, syscall.ENOSPC), fault.Sandbox},
		{"ENOSPC beneath Sandbox beneath Compile", fmt.Errorf("%w: %w", errCompile, fmt.Errorf("%w: (%w)", errSandbox, syscall.ENOSPC)), fault.Compile},
		{"ENOSPC beside Sandbox's sentinel", multi{fmt.Errorf("%w", errSandbox), enospc}, fault.Sandbox},
		{"ENOSPC beside a Sandbox error", multi{errStack, fmt.Errorf("%w: %w", errSandbox, syscall.EPERM), enospc}, fault.DiskFull},
		{"ENOSPC beneath Interrupted", fmt.Errorf("%w: %w", errStop, enospc), fault.Interrupted},
		{"other errno", fmt.Errorf("%w: %w", errStack, syscall.EIO), fault.Stack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fault.KindOf(tc.err); got != tc.want {
				t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// Sentinels stay comparable by identity, so errors.Is keeps working on
// errors that wrap them.
func TestNewIsComparable(t *testing.T) {
	a, b := fault.New(fault.Export, "export failed"), fault.New(fault.Export, "export failed")
	err := fmt.Errorf("%w: storing x: %w", a, syscall.ENOSPC)
	if !errors.Is(err, a) || errors.Is(err, b) {
		t.Errorf("errors.Is(%v) = %v, %v; want true for its own sentinel only", err, errors.Is(err, a), errors.Is(err, b))
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("errors.Is(%v, ENOSPC) = false, want the cause kept", err)
	}
	if err.Error() != "export failed: storing x: no space left on device" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestExitCodes(t *testing.T) {
	seen := map[int]fault.Kind{}
	for _, k := range fault.Kinds() {
		code := k.ExitCode()
		if code <= 0 || code > 255 {
			t.Errorf("%v.ExitCode() = %d, want 1..255", k, code)
		}
		if other, dup := seen[code]; dup {
			t.Errorf("%v and %v both exit %d", k, other, code)
		}
		seen[code] = k
		if k.String() == "" || k.String() == "unknown kind" {
			t.Errorf("Kind(%d) has no name", k)
		}
	}
	if got := fault.Failure.ExitCode(); got != 1 {
		t.Errorf("Failure.ExitCode() = %d, want 1", got)
	}
	if got := fault.Kind(255).ExitCode(); got != 1 {
		t.Errorf("Kind(255).ExitCode() = %d, want 1, an unknown kind is a plain failure", got)
	}
}
