// Package ports translates the bus and gRPC into the assess use case.
package ports

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
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

// GRPC serves emtm.risk.v1.RiskScoringService.
type GRPC struct {
	riskv1.UnimplementedRiskScoringServiceServer
	a     *assess.Assessor
	store *adapters.Store
}

// NewGRPC returns the gRPC port.
func NewGRPC(a *assess.Assessor, store *adapters.Store) *GRPC { return &GRPC{a: a, store: store} }

func (g *GRPC) GetProfile(ctx context.Context, req *riskv1.GetProfileRequest) (*riskv1.GetProfileResponse, error) {
	if req.GetMemberId() == "" {
		return nil, status.Error(codes.InvalidArgument, "member_id is required")
	}
	p, found, err := g.store.Load(ctx, req.GetMemberId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "no profile for member_id %q", req.GetMemberId())
	}
	out := &riskv1.Profile{MemberId: p.MemberID, ContractId: p.ContractID, PbpId: p.PbpID,
		ActiveClaims: int32(len(p.Fills)), ReversedClaims: int32(p.Reversed), LatestAssessment: g.a.Current(p)}
	ings := map[string]bool{}
	for _, f := range p.Fills {
		out.TotalCostCents += f.CostCents
		for _, i := range f.Ingredients {
			ings[i] = true
		}
	}
	for i := range ings {
		out.Ingredients = append(out.Ingredients, i)
	}
	sort.Strings(out.Ingredients)
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
