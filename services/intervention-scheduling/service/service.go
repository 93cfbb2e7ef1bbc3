// Package service wires intervention-scheduling: the assessments consumer (one
// durable per beneficiary partition) and the scheduler API.
package service

import (
	"context"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/ports"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// Name is the service name.
const Name = "intervention-scheduling"

// DefaultGRPCAddr is where intervention-scheduling listens by default.
const DefaultGRPCAddr = "127.0.0.1:7103"

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is intervention-scheduling's configuration.
type Config struct {
	Common config.Common
}

// RegisterFlags defines the settings.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	s.AfterParse(func() error { c.Common = *common; return nil })
	return c
}

// Register adds the API and consumers to rt.
func Register(ctx context.Context, rt *app.Runtime, _ *Config) error {
	s := tasks.New(rt.Redis, rt.Pub, rt.Cfg.Partitions, rt.Hasher)
	schedulingv1.RegisterInterventionSchedulingServiceServer(rt.GRPC.GRPC, ports.NewGRPC(s))
	return rt.Consume(ctx, bus.ConsumerSpec{
		Stream:     bus.StreamAssessments,
		Durable:    "scheduling-assessments",
		Subjects:   []string{"emtm.assessments.{p}"},
		Partitions: rt.Cfg.Partitions,
	}, ports.AssessmentsHandler(s))
}
