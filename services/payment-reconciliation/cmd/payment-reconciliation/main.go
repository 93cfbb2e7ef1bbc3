// Command payment-reconciliation keeps the exactly-once payment ledger.
package main

import (
	"context"
	"os"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/services/payment-reconciliation/service"
)

func main() {
	os.Exit(app.Command(context.Background(), service.Definition, os.Args[1:], os.Getenv, os.Stderr))
}
