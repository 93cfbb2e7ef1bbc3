// Package service wires ingestion: the intake use case with its Redis store,
// the gRPC API and the consumer of pharmacy submissions.
package service

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/services/ingestion/internal/adapters"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
	"github.com/emtm/emtm/services/ingestion/internal/ports"
	"github.com/emtm/emtm/services/ingestion/internal/validate"
)

var planPattern = regexp.MustCompile(`^[A-Z][0-9]{4}-[0-9]{3}$`)

// Name is the service name in telemetry and on the bus.
var Name = directory.Ingestion.Name

// DefaultGRPCAddr is where ingestion listens by default.
var DefaultGRPCAddr = directory.Ingestion.GRPCAddr

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
	// EnrollmentOverdue is how long a claim or encounter may wait for its member's enrollment before it is rejected (NOT_ENROLLED).
	EnrollmentOverdue time.Duration
	// SweepInterval is how often held reversals and submissions awaiting enrollment are checked.
	SweepInterval time.Duration
	// Plans are the plans (contract-pbp) the sponsor runs.
	Plans []string
	// Limits bound amounts and quantities.
	Limits validate.Limits
}

// RegisterFlags defines ingestion's settings on s.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	tz := s.String("time-zone", "America/Chicago", "the plan's time zone (IANA name); decides which dates are in the future")
	overdue := s.Duration("reversal-overdue", 72*time.Hour, "reject (UNKNOWN_CLAIM) a reversal still waiting for its claim after this long")
	awaitOverdue := s.Duration("enrollment-overdue", 72*time.Hour, "reject (NOT_ENROLLED) a claim or encounter still waiting for its member's enrollment after this long")
	sweep := s.Duration("sweep-interval", 30*time.Second, "how often held reversals and submissions awaiting enrollment are checked")
	plans := s.String("plans", "S9925-001", "the plans the sponsor runs, contract-pbp separated by commas; events naming another are rejected (UNKNOWN_PLAN)")
	maxClaim := s.Int("max-claim-cents", int(validate.DefaultLimits.MaxClaimCents), "the largest amount of a claim field, in cents (NCPDP D.0: $999,999.99)")
	maxQty := s.Int("max-quantity-milli", int(validate.DefaultLimits.MaxQuantityMilli), "the largest quantity dispensed, in thousandths (NCPDP D.0: 9,999,999.999)")
	maxMed := s.Int("max-medical-cents", int(validate.DefaultLimits.MaxMedicalCents), "the largest cost of one Parts A/B summary, in cents")
	s.AfterParse(func() error {
		c.Common = *common
		c.TimeZone = *tz
		c.ReversalOverdue, c.EnrollmentOverdue, c.SweepInterval = *overdue, *awaitOverdue, *sweep
		if c.SweepInterval <= 0 || c.ReversalOverdue <= 0 || c.EnrollmentOverdue <= 0 {
			return fmt.Errorf("reversal-overdue, enrollment-overdue and sweep-interval must be positive")
		}
		for _, p := range strings.Split(*plans, ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if p == "" {
				continue
			}
			if !planPattern.MatchString(p) {
				return fmt.Errorf("plans: %q is not a plan; name each as contract-pbp, e.g. S9925-001", p)
			}
			c.Plans = append(c.Plans, p)
		}
		if len(c.Plans) == 0 {
			return fmt.Errorf("plans: name at least one plan the sponsor runs (contract-pbp, e.g. S9925-001)")
		}
		c.Limits = validate.Limits{MaxClaimCents: int64(*maxClaim), MaxQuantityMilli: int64(*maxQty), MaxMedicalCents: int64(*maxMed)}
		if c.Limits.MaxClaimCents <= 0 || c.Limits.MaxQuantityMilli <= 0 || c.Limits.MaxMedicalCents <= 0 {
			return fmt.Errorf("max-claim-cents, max-quantity-milli and max-medical-cents must be positive")
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
	store := adapters.NewStore(rt.Redis, rt.Cfg.Partitions)
	in := intake.New(rt.Pub, store, rt.Cfg.Partitions, loc, intake.WithMeter(rt.Tel.Meter("emtm/ingestion")),
		intake.WithPlans(cfg.Plans), intake.WithLimits(cfg.Limits))
	ingestionv1.RegisterIngestionServiceServer(rt.GRPC.GRPC, ports.NewGRPC(in, rt.JS))
	rt.Every("held-reversals", cfg.SweepInterval, func(ctx context.Context) error {
		held, rejected, err := in.SweepHeld(ctx, cfg.ReversalOverdue)
		if err == nil && rejected > 0 {
			rt.Log.Warn("reversals whose claims never came were rejected (UNKNOWN_CLAIM)", "rejected", rejected, "still_held", held, "overdue_after", cfg.ReversalOverdue.String())
		}
		return err
	})
	rt.Every("awaiting-enrollment", cfg.SweepInterval, func(ctx context.Context) error {
		waiting, rejected, err := in.SweepAwaiting(ctx, cfg.EnrollmentOverdue)
		if err == nil && rejected > 0 {
			rt.Log.Warn("claims or encounters whose member's enrollment never came were rejected (NOT_ENROLLED)", "rejected", rejected, "still_waiting", waiting, "overdue_after", cfg.EnrollmentOverdue.String())
		}
		return err
	})
	return rt.Subscribe(ctx, ports.Subscriptions(in, rt.Log)...)
}
