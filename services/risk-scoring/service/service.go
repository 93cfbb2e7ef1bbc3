// Package service wires risk-scoring: the claims consumer (one durable per
// beneficiary partition, so each beneficiary's claims are scored in order),
// the profile store and the gRPC API.
package service

import (
	"context"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/drugref"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/ports"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// Name is the service name.
const Name = "risk-scoring"

// DefaultGRPCAddr is where risk-scoring listens by default.
const DefaultGRPCAddr = "127.0.0.1:7102"

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is risk-scoring's configuration.
type Config struct {
	Common config.Common
}

// RegisterFlags defines risk-scoring's settings.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	s.AfterParse(func() error { c.Common = *common; return nil })
	return c
}

// Register adds risk-scoring's API and consumers to rt.
func Register(ctx context.Context, rt *app.Runtime, _ *Config) error {
	ref, err := drugref.Load()
	if err != nil {
		return err
	}
	store := adapters.NewStore(rt.Redis)
	a := assess.New(store, rt.Pub, ref, scoring.DefaultPolicy(), rt.Cfg.Partitions, rt.Hasher)
	riskv1.RegisterRiskScoringServiceServer(rt.GRPC.GRPC, ports.NewGRPC(a, store))
	return rt.Consume(ctx, bus.ConsumerSpec{
		Stream:     bus.StreamClaims,
		Durable:    "risk-scoring-claims",
		Subjects:   []string{"emtm.claims.{p}.>"},
		Partitions: rt.Cfg.Partitions,
	}, ports.ClaimsHandler(a))
}
