// Command intervention-scheduling turns risk assessments into intervention
// tasks that sponsor schedulers lease and complete.
package main

import (
	"context"
	"os"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/services/intervention-scheduling/service"
)

func main() {
	os.Exit(app.Command(context.Background(), service.Definition, os.Args[1:], os.Getenv, os.Stderr))
}
