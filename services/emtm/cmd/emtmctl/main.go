// Command emtmctl is emtm's operator command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/emtm/emtm/services/emtm/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := ctl.New(os.Getenv).ExecuteContext(ctx)
	stop()
	var exit ctl.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.Code)
	case err != nil:
		fmt.Fprintln(ctl.TerminalSafe(os.Stderr), "emtmctl:", ctl.ErrorText(err)) // an error may quote data
		os.Exit(1)
	}
}
