// Command ingestion is emtm's front door: claims, reversals, encounters,
// enrollment and Parts A/B summaries over gRPC and NATS.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/services/ingestion/service"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	set := config.New(service.Name, getenv)
	set.SetOutput(stderr)
	cfg := service.RegisterFlags(set)
	if err := set.Parse(args); err != nil {
		fmt.Fprintln(stderr, "ingestion:", err)
		return 2
	}
	err := app.Main(ctx, service.Name, cfg.Common, getenv, stderr, func(ctx context.Context, rt *app.Runtime) error {
		return service.Register(ctx, rt, cfg)
	})
	if err != nil {
		fmt.Fprintln(stderr, "ingestion:", err)
		return 1
	}
	return 0
}
