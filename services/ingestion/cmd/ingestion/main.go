// Command ingestion is emtm's front door: claims, reversals, encounters,
// enrollment and Parts A/B summaries over gRPC and NATS.
package main

import (
	"context"
	"os"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/services/ingestion/service"
)

func main() {
	os.Exit(app.Command(context.Background(), service.Definition, os.Args[1:], os.Getenv, os.Stderr))
}
