// Package service wires payment-reconciliation: consumers of encounters
// (fees; acknowledged only after the server confirms), enrollment (member
// months), Parts A/B summaries (performance) and outreach items (accepted
// answers), one durable per beneficiary partition each; the payment policy;
// the payment clock; a periodic sweep that books member months; and the API.
package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/clock"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/adapters"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ports"
)

// Name is the service name.
var Name = directory.PaymentReconciliation.Name

// DefaultGRPCAddr is where payment-reconciliation listens by default.
var DefaultGRPCAddr = directory.PaymentReconciliation.GRPCAddr

// Definition is what the service's main and the all-in-one runner run.
var Definition app.Definition = app.Def[*Config]{
	Name:     Name,
	Flags:    RegisterFlags,
	Common:   func(c *Config) config.Common { return c.Common },
	Register: Register,
}

// Config is payment-reconciliation's configuration.
type Config struct {
	Common     config.Common
	PolicyFile string
	Clock      *clock.Flags
	policies   *policy.Policies
	// policySource is the policy's text as read (GetPolicy).
	policySource config.Source
}

// RegisterFlags defines the settings; the payment policy is read and validated here.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	pol := s.String("policy", "", "payment policy file: PMPM rates, performance payment, fee schedule per plan (default: the built-in sample for S9925-001)")
	c.Clock = clock.RegisterFlags(s, "this month", time.Minute, "member months are booked from enrollment")
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
	rt.Log.Info("payment policy", "file", cfg.policies.Name, "plans", cfg.policies.Plans(), "clock", clk.Name())
	b := booking.New(adapters.NewStore(rt.Redis, rt.Cfg.Partitions), rt.Pub, cfg.policies, clk, rt.Log)
	ledgerv1.RegisterPaymentReconciliationServiceServer(rt.GRPC.GRPC, ports.NewGRPC(b, rt.JS))
	if err := observeLedger(rt, b); err != nil {
		return err
	}
	rt.Every("sweep", cfg.Clock.SweepInterval, func(ctx context.Context) error {
		r, err := b.Sweep(ctx)
		if err == nil && (r.Booked > 0 || r.Reversed > 0) {
			rt.Log.Info("member months", "through", r.Today.String(), "booked", r.Booked, "reversed", r.Reversed)
		}
		return err
	})
	return rt.Subscribe(ctx, ports.Subscriptions(b)...)
}

// observeLedger reports the ledger's entries by kind and balances by account
// class (pharmacy payables summed, so no label per pharmacy).
func observeLedger(rt *app.Runtime, b *booking.Booker) error {
	m := rt.Tel.Meter("emtm/payment")
	entries, err := m.Int64ObservableGauge("emtm.ledger.entries", metric.WithDescription("ledger entries by kind"))
	if err != nil {
		return err
	}
	balance, err := m.Int64ObservableGauge("emtm.ledger.balance", metric.WithUnit("{cent}"),
		metric.WithDescription("account balances in cents, debits positive, by account class"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		t, err := b.Totals(ctx)
		if err != nil {
			return err
		}
		for kind, n := range t.ByKind {
			o.ObserveInt64(entries, n, metric.WithAttributes(attribute.String("kind", kind)))
		}
		classes := map[string]int64{}
		for account, cents := range t.Balances {
			class, _, _ := strings.Cut(account, ":")
			if strings.HasPrefix(account, "adjustments:") || strings.HasPrefix(account, "suspense:") {
				class = account
			}
			v, err := money.Add(classes[class], cents)
			if err != nil {
				return fmt.Errorf("balance of %s: %w", class, err)
			}
			classes[class] = v
		}
		for class, cents := range classes {
			o.ObserveInt64(balance, cents, metric.WithAttributes(attribute.String("account", class)))
		}
		return nil
	}, entries, balance)
	return err
}
