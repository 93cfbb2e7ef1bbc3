// Command need-redis makes sure redis-server is installed, as `emtm run`
// does (redisproc.EnsureInstalled): installed with apt-get when missing and
// root, otherwise it stops with the command to run. `make run` and `make
// test` call it when redis-server is not on PATH.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/emtm/emtm/libs/redisproc"
)

func main() {
	p, err := redisproc.EnsureInstalled(context.Background(), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emtm and its tests need redis-server:", err)
		os.Exit(1)
	}
	fmt.Println("redis-server:", p)
}
