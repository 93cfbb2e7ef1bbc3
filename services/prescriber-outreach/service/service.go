// Package service wires prescriber-outreach: the assessments consumer (one
// durable per beneficiary partition) and the outreach API.
package service

import (
	"context"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/ports"
)

// Name is the service name.
const Name = "prescriber-outreach"

// DefaultGRPCAddr is where prescriber-outreach listens by default.
const DefaultGRPCAddr = "127.0.0.1:7104"

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is prescriber-outreach's configuration.
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
	r := outreach.New(rt.Redis, rt.Pub, rt.Cfg.Partitions, rt.Hasher)
	outreachv1.RegisterPrescriberOutreachServiceServer(rt.GRPC.GRPC, ports.NewGRPC(r))
	return rt.Consume(ctx, bus.ConsumerSpec{
		Stream:     bus.StreamAssessments,
		Durable:    "outreach-assessments",
		Subjects:   []string{"emtm.assessments.{p}"},
		Partitions: rt.Cfg.Partitions,
	}, ports.AssessmentsHandler(r))
}
