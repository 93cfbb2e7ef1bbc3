// Package service wires intervention-scheduling: consumers of assessments,
// Parts A/B summaries (discharges), encounters and enrollment (one durable per
// beneficiary partition each), the program policy, the scheduling clock, a
// periodic sweep and the scheduler API.
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
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/adapters"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/ports"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// Name is the service name.
var Name = directory.InterventionScheduling.Name

// DefaultGRPCAddr is where intervention-scheduling listens by default.
var DefaultGRPCAddr = directory.InterventionScheduling.GRPCAddr

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is intervention-scheduling's configuration.
type Config struct {
	Common     config.Common
	PolicyFile string
	Clock      *clock.Flags
	policies   *policy.Policies
	// policySource is the policy's text as read (GetPolicy).
	policySource config.Source
}

// RegisterFlags defines the settings; the program file is read and validated here.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	pol := s.String("policy", "", "program policy file: interventions by tier, deadlines, capacity (default: the built-in sample for S9925-001)")
	c.Clock = clock.RegisterFlags(s, "today", 5*time.Second, "leases, expiry, unpublished changes and the work queue are swept")
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
	clk, err := cfg.Clock.New(rt.Redis, "is:clock")
	if err != nil {
		return err
	}
	rt.Log.Info("program policy", "file", cfg.policies.Name, "plans", cfg.policies.Plans(), "clock", clk.Name())
	s := tasks.New(adapters.NewStore(rt.Redis, rt.Cfg.Partitions), rt.Pub, cfg.policies, clk, rt.Cfg.Partitions, rt.Hasher)
	schedulingv1.RegisterInterventionSchedulingServiceServer(rt.GRPC.GRPC, ports.NewGRPC(s, rt.JS))
	rt.Every("sweep", cfg.Clock.SweepInterval, s.Sweep)
	if err := observeTasks(rt, s); err != nil {
		return err
	}
	return rt.Subscribe(ctx, ports.Subscriptions(s)...)
}

// observeTasks reports the task backlog by kind and age, and tasks by kind and status.
func observeTasks(rt *app.Runtime, s *tasks.Scheduler) error {
	m := rt.Tel.Meter("emtm/scheduling")
	backlog, err := m.Int64ObservableGauge("emtm.tasks.backlog", metric.WithDescription("open tasks by kind and age: not_due, overdue_1_7d, overdue_8_30d, overdue_31d_plus"))
	if err != nil {
		return err
	}
	byStatus, err := m.Int64ObservableGauge("emtm.tasks", metric.WithDescription("tasks by kind and status"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		b, err := s.Backlog(ctx, "")
		if err != nil {
			return err
		}
		for k, n := range b {
			o.ObserveInt64(backlog, n, metric.WithAttributes(attribute.String("kind", k[0]), attribute.String("age", k[1])))
		}
		counts, _, err := s.Counts(ctx, "")
		if err != nil {
			return err
		}
		for _, c := range counts {
			o.ObserveInt64(byStatus, c.Count, metric.WithAttributes(attribute.String("kind", enums.Name(c.Kind)),
				attribute.String("status", enums.Name(c.Status))))
		}
		return nil
	}, backlog, byStatus)
	return err
}
