// Package ports translates the bus and gRPC into the assess use case.
package ports

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// ClaimsHandler consumes EMTM_CLAIMS: paid claims and reversals.
func ClaimsHandler(a *assess.Assessor) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		switch {
		case strings.HasSuffix(m.Subject, ".paid"):
			var c claimsv1.PharmacyClaim
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				return bus.Permanent(fmt.Errorf("decode claim: %w", err))
			}
			return a.OnClaim(ctx, &c)
		case strings.HasSuffix(m.Subject, ".reversed"):
			var r claimsv1.ClaimReversal
			if err := proto.Unmarshal(m.Data, &r); err != nil {
				return bus.Permanent(fmt.Errorf("decode reversal: %w", err))
			}
			return a.OnReversal(ctx, &r)
		}
		return bus.Permanent(fmt.Errorf("unexpected subject %s", m.Subject))
	}
}

// MedicalHandler consumes EMTM_MEDICAL: Parts A/B summaries and conditions.
func MedicalHandler(a *assess.Assessor) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		switch {
		case strings.HasSuffix(m.Subject, ".partsab"):
			var s medicalv1.PartsAbSummary
			if err := proto.Unmarshal(m.Data, &s); err != nil {
				return bus.Permanent(fmt.Errorf("decode Parts A/B summary: %w", err))
			}
			return a.OnPartsAB(ctx, &s)
		case strings.HasSuffix(m.Subject, ".condition"):
			var c medicalv1.Condition
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				return bus.Permanent(fmt.Errorf("decode condition: %w", err))
			}
			return a.OnCondition(ctx, &c)
		}
		return bus.Permanent(fmt.Errorf("unexpected subject %s", m.Subject))
	}
}

// EnrollmentHandler consumes EMTM_ENROLLMENT: hospice elections.
func EnrollmentHandler(a *assess.Assessor) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var e enrollmentv1.Enrollment
		if err := proto.Unmarshal(m.Data, &e); err != nil {
			return bus.Permanent(fmt.Errorf("decode enrollment: %w", err))
		}
		return a.OnEnrollment(ctx, &e)
	}
}

// ReplayStream reads a stream from its first message to the last one present
// when it starts (bus.Replay).
func ReplayStream(js jetstream.JetStream) assess.Replayer {
	return func(ctx context.Context, stream string, fn func(subject string, data []byte) error) (int64, error) {
		return bus.Replay(ctx, js, stream, fn)
	}
}

// GRPC serves emtm.risk.v1.RiskScoringService.
type GRPC struct {
	riskv1.UnimplementedRiskScoringServiceServer
	a     *assess.Assessor
	store *adapters.Store
	js    jetstream.JetStream
}

// NewGRPC returns the gRPC port.
func NewGRPC(a *assess.Assessor, store *adapters.Store, js jetstream.JetStream) *GRPC {
	return &GRPC{a: a, store: store, js: js}
}

func (g *GRPC) GetProfile(ctx context.Context, req *riskv1.GetProfileRequest) (*riskv1.GetProfileResponse, error) {
	if req.GetMemberId() == "" {
		return nil, status.Error(codes.InvalidArgument, "member_id is required")
	}
	snap, found, err := g.store.Load(ctx, req.GetMemberId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	if !found || !grpcx.MayActOnContract(ctx, snap.Profile.ContractID) { // another sponsor's member is missing
		return nil, status.Errorf(codes.NotFound, "no profile for member_id %q", req.GetMemberId())
	}
	p := snap.Profile
	size, err := g.store.Size(ctx, p.MemberID)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	out := &riskv1.Profile{MemberId: p.MemberID, ContractId: p.ContractID, PbpId: p.PbpID,
		ActiveClaims: int32(len(p.Fills)), ReversedClaims: int32(p.Reversed), LatestAssessment: g.a.Current(p),
		ChronicConditions: g.a.Categories(p), Conditions: int32(len(p.Conditions)), PartsAbEvents: int32(len(p.Medical)), StoredBytes: size,
		Exclusions: g.a.Exclusions(p)}
	ings, unknown := map[string]bool{}, map[string]bool{}
	var total money.Sum
	for _, f := range p.Fills {
		total.Add(f.CostCents)
		for _, i := range f.Known() {
			ings[i] = true
		}
		for _, i := range f.Unknown() {
			unknown[i] = true
		}
	}
	if out.TotalCostCents, err = total.Total(); err != nil {
		return nil, status.Errorf(codes.DataLoss, "the profile's total cost: %v", err)
	}
	for i := range ings {
		out.Ingredients = append(out.Ingredients, i)
	}
	for i := range unknown {
		out.UnknownDrugs = append(out.UnknownDrugs, i)
	}
	sort.Strings(out.Ingredients)
	sort.Strings(out.UnknownDrugs)
	sort.Strings(out.ChronicConditions)
	return &riskv1.GetProfileResponse{Profile: out}, nil
}

func (g *GRPC) ListByTier(ctx context.Context, req *riskv1.ListByTierRequest) (*riskv1.ListByTierResponse, error) {
	if req.GetContractId() == "" || req.GetPbpId() == "" || req.GetTier() == riskv1.RiskTier_RISK_TIER_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "contract_id, pbp_id and tier are required")
	}
	ids, err := g.store.MembersByTier(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetTier()))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	sort.Strings(ids)
	return &riskv1.ListByTierResponse{MemberIds: ids}, nil
}

func (g *GRPC) RebuildProfiles(ctx context.Context, req *riskv1.RebuildProfilesRequest) (*riskv1.RebuildProfilesResponse, error) {
	rep, err := g.a.Rebuild(ctx, ReplayStream(g.js), []string{bus.StreamClaims, bus.StreamMedical, bus.StreamEnrollment}, req.GetApply())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "rebuild: %v", err)
	}
	return &riskv1.RebuildProfilesResponse{EventsReplayed: rep.Events, ProfilesRebuilt: rep.Rebuilt, ProfilesLive: rep.Live,
		ProfilesEqual: rep.Equal, Differences: rep.Differences, Applied: rep.Applied}, nil
}

func (g *GRPC) GetProfileStats(ctx context.Context, _ *riskv1.GetProfileStatsRequest) (*riskv1.GetProfileStatsResponse, error) {
	members, err := g.store.Members(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	out := &riskv1.GetProfileStatsResponse{ByTier: map[string]int64{}, ByProblem: map[string]int64{}}
	for _, m := range members {
		size, err := g.store.Size(ctx, m)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "%v", err)
		}
		fp, err := g.store.Fingerprint(ctx, m)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "%v", err)
		}
		out.Profiles++
		out.TotalBytes += size
		out.MaxBytes = max(out.MaxBytes, size)
		if fp == "" {
			continue // no assessment yet (no fills)
		}
		tier, eligible, codes := assess.ParseFingerprint(fp)
		out.ByTier[scoring.TierName(tier)]++
		if eligible {
			out.Eligible++
		}
		for _, c := range codes {
			out.ByProblem[c]++
		}
	}
	return out, nil
}
