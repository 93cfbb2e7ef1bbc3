// Package service wires payment-reconciliation: the encounters consumer (one
// durable per beneficiary partition, acknowledged only after the server
// confirms), the fee schedule, the ledger and its API.
package service

import (
	"context"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ports"
)

// Name is the service name.
const Name = "payment-reconciliation"

// DefaultGRPCAddr is where payment-reconciliation listens by default.
const DefaultGRPCAddr = "127.0.0.1:7105"

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is payment-reconciliation's configuration.
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
	b := booking.New(rt.Redis, rt.Pub, feeschedule.Sample(), rt.Log)
	ledgerv1.RegisterPaymentReconciliationServiceServer(rt.GRPC.GRPC, ports.NewGRPC(b))
	return rt.Consume(ctx, bus.ConsumerSpec{
		Stream:     bus.StreamEncounters,
		Durable:    "payment-encounters",
		Subjects:   []string{"emtm.encounters.{p}"},
		Partitions: rt.Cfg.Partitions,
		DoubleAck:  true,
	}, ports.EncountersHandler(b))
}
