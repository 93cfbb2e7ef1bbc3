// Package service wires prescriber-outreach: consumers of assessments (new
// problems) and encounters (prescriber responses), one durable per beneficiary
// partition each; the outreach policy; the outreach clock; a periodic sweep
// that builds communications; and the outreach API.
package service

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/clock"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/adapters"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/policy"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/ports"
)

// Name is the service name.
var Name = directory.PrescriberOutreach.Name

// DefaultGRPCAddr is where prescriber-outreach listens by default.
var DefaultGRPCAddr = directory.PrescriberOutreach.GRPCAddr

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is prescriber-outreach's configuration.
type Config struct {
	Common     config.Common
	PolicyFile string
	Clock      *clock.Flags
	policies   *policy.Policies
	// policySource is the policy's text as read (GetPolicy).
	policySource config.Source
}

// RegisterFlags defines the settings; the policy file is read and validated here.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	pol := s.String("policy", "", "outreach policy file: batching period, rate limits, repeat window, response deadline (default: the built-in sample for S9925-001)")
	c.Clock = clock.RegisterFlags(s, "today", 5*time.Second, "communications are built, deadlines checked and lost events republished")
	s.AfterParse(func() error {
		c.Common, c.PolicyFile = *common, *pol
		var err error
		if c.policySource, err = config.ReadSource(c.PolicyFile, policy.SampleName, []byte(policy.SampleYAML())); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		if c.policies, err = policy.Parse(c.policySource.Name, c.policySource.Data); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		return nil
	})
	return c
}

// Register adds the API, consumers and the sweep to rt.
func Register(ctx context.Context, rt *app.Runtime, cfg *Config) error {
	rt.ServePolicy(cfg.policySource)
	clk, err := cfg.Clock.New(rt.Redis, adapters.ClockKey)
	if err != nil {
		return err
	}
	rt.Log.Info("outreach policy", "file", cfg.policies.Name, "clock", clk.Name())
	o := outreach.New(adapters.NewStore(rt.Redis, rt.Cfg.Partitions), rt.Pub, cfg.policies, clk, rt.Cfg.Partitions, rt.Hasher)
	outreachv1.RegisterPrescriberOutreachServiceServer(rt.GRPC.GRPC, ports.NewGRPC(o))
	if err := observeOutreach(rt, o); err != nil {
		return err
	}
	rt.Every("sweep", cfg.Clock.SweepInterval, func(ctx context.Context) error {
		r, err := o.Sweep(ctx)
		if err == nil && (r.Communications > 0 || r.NoResponse > 0) {
			rt.Log.Info("outreach sweep", "today", r.Today.String(), "communications", r.Communications, "no_response", r.NoResponse)
		}
		return err
	})
	return rt.Subscribe(ctx, ports.Subscriptions(o)...)
}

// observeOutreach reports outreach items by problem type and status, and the letters built.
func observeOutreach(rt *app.Runtime, o *outreach.Outreach) error {
	m := rt.Tel.Meter("emtm/outreach")
	items, err := m.Int64ObservableGauge("emtm.outreach.items", metric.WithDescription("outreach items by problem type and status"))
	if err != nil {
		return err
	}
	letters, err := m.Int64ObservableGauge("emtm.outreach.communications", metric.WithDescription("letters built for prescribers"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		c, err := o.Counts(ctx, "")
		if err != nil {
			return err
		}
		for code, byStatus := range c.ByCode {
			for status, n := range byStatus {
				ob.ObserveInt64(items, n, metric.WithAttributes(attribute.String("problem", code), attribute.String("status", status)))
			}
		}
		ob.ObserveInt64(letters, c.Comms)
		return nil
	}, items, letters)
	return err
}
