// Package service wires risk-scoring: the claims and medical consumers (one
// durable per beneficiary partition, so each beneficiary's events are handled
// in order within a stream), the profile store, the risk policy and the gRPC API.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	"github.com/emtm/emtm/libs/drugref"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/ports"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// Name is the service name.
var Name = directory.RiskScoring.Name

// DefaultGRPCAddr is where risk-scoring listens by default.
var DefaultGRPCAddr = directory.RiskScoring.GRPCAddr

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
	// PolicyFile is the risk policy (policy.yaml format); empty: the built-in sample.
	PolicyFile string
	policies   *scoring.Policies
	// policySource is the policy's text as read (GetPolicy).
	policySource config.Source
}

// RegisterFlags defines risk-scoring's settings. The policy file is read and
// validated here, so a bad file stops the service at start with its line.
func RegisterFlags(s *config.Set) *Config {
	c := &Config{}
	common := config.RegisterCommon(s, DefaultGRPCAddr)
	policy := s.String("policy", "", "risk policy file: targeting criteria, weights and tiers per plan (default: the built-in sample for S9925-001)")
	s.AfterParse(func() error {
		c.Common, c.PolicyFile = *common, *policy
		src, err := config.ReadSource(c.PolicyFile, scoring.SampleName, []byte(scoring.SampleYAML()))
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		c.policySource = src
		ps, err := scoring.ParsePolicies(src.Name, src.Data)
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		c.policies = ps
		return nil
	})
	return c
}

// Register adds risk-scoring's API and consumers to rt.
func Register(ctx context.Context, rt *app.Runtime, cfg *Config) error {
	rt.ServePolicy(cfg.policySource)
	drugs, err := drugref.Load()
	if err != nil {
		return err
	}
	cm, err := chronic.Load()
	if err != nil {
		return err
	}
	rt.Log.Info("risk policy", "file", cfg.policies.Name, "plans", cfg.policies.Plans(), "default", cfg.policies.For("", "").Describe())
	year := time.Now().Year()
	if missing := cfg.policies.WithoutCostThreshold(year); len(missing) > 0 {
		rt.Log.Warn("the risk policy has no MTM cost threshold for this year: no member meets the cost criterion until one is set "+
			"(eligibility.cost_threshold_cents, from CMS's annual MTM program memo)", "year", year, "policies", missing)
	}
	store := adapters.NewStore(rt.Redis, adapters.LivePrefix, rt.Cfg.Partitions)
	a := assess.New(store, rt.Pub, scoring.References{Drugs: drugs, Chronic: cm}, cfg.policies, rt.Cfg.Partitions, rt.Hasher)
	riskv1.RegisterRiskScoringServiceServer(rt.GRPC.GRPC, ports.NewGRPC(a, rt.JS))
	return rt.Subscribe(ctx, ports.Subscriptions(a)...)
}
