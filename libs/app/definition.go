package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/emtm/emtm/libs/config"
)

// Definition describes a service: what its main and the all-in-one runner need.
type Definition interface {
	ServiceName() string
	// Prepare parses flags and environment into a service ready to run.
	Prepare(args []string, getenv func(string) string, stderr io.Writer) (Prepared, error)
}

// Prepared is a configured service.
type Prepared struct {
	Name     string
	Common   config.Common
	Register RegisterFunc
}

// Def implements Definition for a service whose configuration is C.
type Def[C any] struct {
	Name string
	// Flags defines the settings on a set; the value is complete after Parse.
	Flags    func(*config.Set) C
	Common   func(C) config.Common
	Register func(context.Context, *Runtime, C) error
}

// ServiceName implements Definition.
func (d Def[C]) ServiceName() string { return d.Name }

// Prepare implements Definition.
func (d Def[C]) Prepare(args []string, getenv func(string) string, stderr io.Writer) (Prepared, error) {
	set := config.New(d.Name, getenv)
	set.SetOutput(stderr)
	c := d.Flags(set)
	if err := set.Parse(args); err != nil {
		return Prepared{}, err
	}
	return Prepared{Name: d.Name, Common: d.Common(c), Register: func(ctx context.Context, rt *Runtime) error {
		return d.Register(ctx, rt, c)
	}}, nil
}

// Command is the whole of a service's main: it stops on SIGINT or SIGTERM and
// returns the process exit code (0 ok, 1 failed, 2 bad configuration).
func Command(ctx context.Context, def Definition, args []string, getenv func(string) string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := def.Prepare(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", def.ServiceName(), err)
		return 2
	}
	if err := Main(ctx, p.Name, p.Common, getenv, stderr, p.Register); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", def.ServiceName(), err)
		return 1
	}
	return 0
}
