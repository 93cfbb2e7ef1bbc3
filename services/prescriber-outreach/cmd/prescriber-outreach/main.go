// Command prescriber-outreach records drug therapy problems per prescriber,
// so that each prescriber hears about what they can act on.
package main

import (
	"context"
	"os"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/services/prescriber-outreach/service"
)

func main() {
	os.Exit(app.Command(context.Background(), service.Definition, os.Args[1:], os.Getenv, os.Stderr))
}
