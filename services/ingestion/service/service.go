// Package service wires ingestion: the intake use case with its Redis store,
// the gRPC API and the consumer of pharmacy submissions.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/services/ingestion/internal/adapters"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
	"github.com/emtm/emtm/services/ingestion/internal/ports"
)

// Name is the service name in telemetry and on the bus.
const Name = "ingestion"

// DefaultGRPCAddr is where ingestion listens by default.
const DefaultGRPCAddr = "127.0.0.1:7101"

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is ingestion's configuration.
type Config struct {
	Common config.Common
	// TimeZone decides "today" for date checks (the plan's time zone).
	TimeZone string
	// ReversalOverdue is how long a reversal may wait for its claim before it is rejected (UNKNOWN_CLAIM).
	ReversalOverdue time.Duration
	// SweepInterval is how often held reversals are checked.
	SweepInterval time.Duration
}

// RegisterFlags defines ingestion's settings on s.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	tz := s.String("time-zone", "America/Chicago", "the plan's time zone (IANA name); decides which dates are in the future")
	overdue := s.Duration("reversal-overdue", 72*time.Hour, "reject (UNKNOWN_CLAIM) a reversal still waiting for its claim after this long")
	sweep := s.Duration("sweep-interval", 30*time.Second, "how often held reversals are checked")
	s.AfterParse(func() error {
		c.Common = *common
		c.TimeZone = *tz
		c.ReversalOverdue, c.SweepInterval = *overdue, *sweep
		if c.SweepInterval <= 0 || c.ReversalOverdue <= 0 {
			return fmt.Errorf("reversal-overdue and sweep-interval must be positive")
		}
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return fmt.Errorf("time-zone: %w", err)
		}
		return nil
	})
	return c
}

// Register adds ingestion's API and consumers to rt.
func Register(ctx context.Context, rt *app.Runtime, cfg *Config) error {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return fmt.Errorf("time-zone: %w", err)
	}
	store := adapters.NewStore(rt.Redis)
	in := intake.New(rt.Pub, store, rt.Cfg.Partitions, loc, intake.WithMeter(rt.Tel.Meter("emtm/ingestion")))
	ingestionv1.RegisterIngestionServiceServer(rt.GRPC.GRPC, ports.NewGRPC(in, store, rt.JS))
	rt.Every("held-reversals", cfg.SweepInterval, func(ctx context.Context) error {
		held, rejected, err := in.SweepHeld(ctx, cfg.ReversalOverdue)
		if err == nil && rejected > 0 {
			rt.Log.Warn("reversals whose claims never came were rejected (UNKNOWN_CLAIM)", "rejected", rejected, "still_held", held, "overdue_after", cfg.ReversalOverdue.String())
		}
		return err
	})
	return rt.ConsumeGranted(ctx, bus.ConsumerSpec{Key: ports.RawKey}, map[string]bus.Handler{
		"ingestion-pharmacy": ports.RawHandler(in, rt.Log),
		"ingestion-feed":     ports.RawHandler(in, rt.Log),
	})
}
