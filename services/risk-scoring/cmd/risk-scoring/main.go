// Command risk-scoring keeps each beneficiary's medication profile and emits
// explainable risk assessments.
package main

import (
	"context"
	"os"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/services/risk-scoring/service"
)

func main() {
	os.Exit(app.Command(context.Background(), service.Definition, os.Args[1:], os.Getenv, os.Stderr))
}
