// Command console is emtm's web console for operators and the sponsor's
// program staff: the program at a glance, a member's profile, tasks,
// outreach, payments and operations, read through the five services' gRPC
// APIs (docs/console.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/emtm/emtm/services/console/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := service.Command(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
