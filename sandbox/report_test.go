package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"testing"

	"github.com/paas-dev/paas/layers"
)

// TestReportKeepsCauses sends errors through a report as the init does and
// checks that what callers test with errors.Is survives the trip.
func TestReportKeepsCauses(t *testing.T) {
	tests := []struct {
		err  error
		want []error
	}{
		{fmt.Errorf("writing f: %w", syscall.ENOSPC), []error{syscall.ENOSPC}},
		{fmt.Errorf("unpacking: %w", fmt.Errorf("%w: whiteout", layers.ErrUnsafeEntry)), []error{layers.ErrUnsafeEntry}},
		{fmt.Errorf("%w: too many entries", layers.ErrLimit), []error{layers.ErrLimit}},
		{fmt.Errorf("reading layer: %w", io.ErrUnexpectedEOF), []error{io.ErrUnexpectedEOF}},
		{errors.New("something else"), nil},
	}
	ic := initConfig{Unpack: "/tree"}
	for _, tt := range tests {
		data, err := json.Marshal(errorReport(tt.err))
		if err != nil {
			t.Fatal(err)
		}
		_, got := parseReport(context.Background(), ic, data, nil, nil)
		if want := "unpacking into /tree in sandbox: " + tt.err.Error(); got == nil || got.Error() != want {
			t.Errorf("parseReport(%v) = %v, want %q", tt.err, got, want)
		}
		for _, c := range append([]error{syscall.ENOSPC}, reportedErrors...) {
			if want := slices.Contains(tt.want, c); errors.Is(got, c) != want {
				t.Errorf("errors.Is(parseReport(%v), %v) = %v, want %v", tt.err, c, !want, want)
			}
		}
	}
}
