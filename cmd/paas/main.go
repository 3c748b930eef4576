// Command paas builds apps into OCI images with buildpacks, without a
// daemon, and runs them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/paas-dev/paas/sandbox"
)

func main() {
	if sandbox.Reexec() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
