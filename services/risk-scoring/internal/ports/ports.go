// Package ports translates the bus and gRPC into the assess use case.
package ports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/careplan"
	"github.com/emtm/emtm/libs/civil"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// Subscriptions are risk-scoring's durables with the use case's handlers.
// The live consumers and a rebuild's replay use the same ones.
func Subscriptions(a *assess.Assessor) []bus.Subscription {
	return []bus.Subscription{
		bus.Batched(bus.Subscribe(bus.RiskScoringClaims, bus.On(bus.ClaimPaid, a.OnClaim), bus.On(bus.ClaimReversed, a.OnReversal)),
			bus.ClaimPaid, a.OnClaims),
		bus.Subscribe(bus.RiskScoringMedical, bus.On(bus.PartsAB, a.OnPartsAB), bus.On(bus.Condition, a.OnCondition)),
		bus.Subscribe(bus.RiskScoringEnrollment, bus.On(bus.Enrollment, a.OnEnrollment)),
		bus.Subscribe(bus.RiskScoringEncounters, bus.On(bus.Encounter, a.OnEncounter)),
	}
}

// replay replays what the live consumers received into another assessor.
func replay(js jetstream.JetStream) assess.Replayer {
	return func(ctx context.Context, to *assess.Assessor) (int64, error) {
		var n int64
		for _, s := range Subscriptions(to) {
			k, err := s.Replay(ctx, js)
			n += k
			if err != nil {
				return n, fmt.Errorf("%s: %w", s.Durable.Stream, err)
			}
		}
		return n, nil
	}
}

// GRPC serves emtm.risk.v1.RiskScoringService.
type GRPC struct {
	riskv1.UnimplementedRiskScoringServiceServer
	a  *assess.Assessor
	js jetstream.JetStream
}

// NewGRPC returns the gRPC port.
func NewGRPC(a *assess.Assessor, js jetstream.JetStream) *GRPC {
	return &GRPC{a: a, js: js}
}

// memberProfile is a member's profile and the bytes it takes, for a caller who
// may act on its contract: another sponsor's member is missing (NotFound),
// as an unknown one.
func (g *GRPC) memberProfile(ctx context.Context, member string) (*profile.Profile, int64, error) {
	p, size, found, err := g.a.Profile(ctx, member)
	if err != nil {
		return nil, 0, status.Errorf(codes.Unavailable, "%v", err)
	}
	if !found || !grpcx.MayActOnContract(ctx, p.ContractID) {
		return nil, 0, status.Errorf(codes.NotFound, "no profile for member_id %q", member)
	}
	return p, size, nil
}

func (g *GRPC) GetProfile(ctx context.Context, req *riskv1.GetProfileRequest) (*riskv1.GetProfileResponse, error) {
	if req.GetMemberId() == "" {
		return nil, status.Error(codes.InvalidArgument, "member_id is required")
	}
	p, size, err := g.memberProfile(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	out := &riskv1.Profile{MemberId: p.MemberID, ContractId: p.ContractID, PbpId: p.PbpID,
		ActiveClaims: int32(len(p.Fills)), ReversedClaims: int32(p.Reversed), LatestAssessment: g.a.Current(p),
		ChronicConditions: g.a.Categories(p), Conditions: int32(len(p.Conditions)), PartsAbEvents: int32(len(p.Medical)), StoredBytes: size,
		Exclusions: g.a.Exclusions(p)}
	ings, unknown := map[string]bool{}, map[string]bool{}
	var total money.Sum
	for _, f := range p.Fills {
		out.Fills = append(out.Fills, &riskv1.Fill{ClaimId: f.ClaimID, PharmacyNpi: f.PharmacyNPI, DateOfService: f.Date.Proto(),
			DaysSupply: int32(f.DaysSupply), CostCents: f.CostCents, PrescriberNpi: f.PrescriberNPI,
			Ingredients: append([]string(nil), f.Ingredients...), MmePerDay: float64(f.MME10) / 10})
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
	sort.SliceStable(out.Fills, func(i, j int) bool {
		return civil.FromProto(out.Fills[i].DateOfService).Before(civil.FromProto(out.Fills[j].DateOfService))
	})
	sort.Strings(out.Ingredients)
	sort.Strings(out.UnknownDrugs)
	sort.Strings(out.ChronicConditions)
	return &riskv1.GetProfileResponse{Profile: out}, nil
}

func (g *GRPC) ListByTier(ctx context.Context, req *riskv1.ListByTierRequest) (*riskv1.ListByTierResponse, error) {
	if req.GetContractId() == "" || req.GetPbpId() == "" || req.GetTier() == riskv1.RiskTier_RISK_TIER_UNSPECIFIED {
		return nil, status.Error(codes.InvalidArgument, "contract_id, pbp_id and tier are required")
	}
	ids, err := g.a.MembersByTier(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetTier()))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	sort.Strings(ids)
	return &riskv1.ListByTierResponse{MemberIds: ids}, nil
}

func (g *GRPC) RebuildProfiles(ctx context.Context, req *riskv1.RebuildProfilesRequest) (*riskv1.RebuildProfilesResponse, error) {
	rep, err := g.a.Rebuild(ctx, replay(g.js), req.GetApply())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "rebuild: %v", err)
	}
	return &riskv1.RebuildProfilesResponse{EventsReplayed: rep.Events, ProfilesRebuilt: rep.Rebuilt, ProfilesLive: rep.Live,
		ProfilesEqual: rep.Equal, Differences: rep.Differences, Applied: rep.Applied}, nil
}

// GetCarePlan writes the member's care plan (the pharmacists' problems and
// recommendations on the profile) as a PhCP Bundle; another sponsor's member
// is missing, as for GetProfile.
func (g *GRPC) GetCarePlan(ctx context.Context, req *riskv1.GetCarePlanRequest) (*riskv1.GetCarePlanResponse, error) {
	if req.GetMemberId() == "" {
		return nil, status.Error(codes.InvalidArgument, "member_id is required")
	}
	p, _, err := g.memberProfile(ctx, req.GetMemberId())
	if err != nil {
		return nil, err
	}
	asOf := p.AsOf()
	if asOf.IsZero() {
		return nil, status.Errorf(codes.FailedPrecondition, "member %q has no dated event yet: no care plan to write", req.GetMemberId())
	}
	plan := &careplan.Plan{ID: "emtm:" + p.MemberID + ":" + asOf.String(), Date: asOf, MemberID: p.MemberID, Contract: p.ContractID, PBP: p.PbpID}
	for _, pr := range p.Problems {
		onset, _ := profile.DecodeDate(pr.Onset)
		plan.Problems = append(plan.Problems, careplan.Problem{ID: pr.ID, Code: careplan.Code{System: careplan.SNOMED, Code: pr.Code},
			Text: pr.Description, Resolved: pr.Resolved, Onset: onset})
		for _, r := range pr.Recs {
			plan.Recommendations = append(plan.Recommendations, careplan.Recommendation{PrescriberNPI: r.NPI, ProblemID: pr.ID, Text: r.Text, Code: careplan.Code{System: careplan.SNOMED, Code: r.Code}})
		}
	}
	sponsor := "Part D plan"
	if p.ContractID != "" {
		sponsor = "Part D plan " + p.ContractID + "-" + p.PbpID
	}
	doc, err := careplan.Write(plan, sponsor)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "writing the care plan: %v", err)
	}
	return &riskv1.GetCarePlanResponse{Bundle: doc, ContentType: bus.ContentFHIRJSON}, nil
}

// GetCmrSummary writes a completed CMR's written summary in CMS's
// Standardized Format; a CMR of another sponsor's member is missing, as for
// GetProfile.
func (g *GRPC) GetCmrSummary(ctx context.Context, req *riskv1.GetCmrSummaryRequest) (*riskv1.GetCmrSummaryResponse, error) {
	id := req.GetEncounterId()
	if id == "" {
		return nil, grpcx.BadField("encounter_id", "required")
	}
	if len(id) > 128 {
		return nil, grpcx.BadField("encounter_id", "at most 128 characters")
	}
	prepared := civil.Today(time.UTC)
	if req.GetPreparedOn() != nil {
		if prepared = civil.FromProto(req.GetPreparedOn()); !prepared.Valid() {
			return nil, grpcx.BadField("prepared_on", "not a calendar date")
		}
	}
	r, found, err := g.a.Review(ctx, id)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	if !found || !grpcx.MayActOnContract(ctx, r.ContractID) {
		return nil, status.Errorf(codes.NotFound, "no completed CMR has encounter_id %q (a TMR or another service has no written summary in the Standardized Format)", id)
	}
	on, err := r.ServiceDate()
	if err != nil {
		return nil, status.Errorf(codes.DataLoss, "CMR %s: %v", id, err)
	}
	if prepared.Before(on) {
		return nil, grpcx.BadField("prepared_on", fmt.Sprintf("%s is before the CMR (%s)", prepared, on))
	}
	s, err := g.a.Summary(ctx, r, prepared)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	page, err := s.HTML()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "writing the HTML: %v", err)
	}
	doc, pages, err := s.PDF()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	return &riskv1.GetCmrSummaryResponse{MemberId: r.MemberID, ServiceDate: on.Proto(), SendBy: on.AddDays(cmr.SendWithinDays).Proto(),
		Html: page, Pdf: doc, PdfPages: int32(pages), Medications: int32(len(s.Medications)), Topics: int32(len(s.Topics)),
		ContractId: r.ContractID, PbpId: r.PbpID}, nil
}

func (g *GRPC) GetProfileStats(ctx context.Context, req *riskv1.GetProfileStatsRequest) (*riskv1.GetProfileStatsResponse, error) {
	if _, err := grpcx.PlanScope(ctx, req.GetContractId(), req.GetPbpId(), "profile statistics"); err != nil {
		return nil, err
	}
	st, err := g.a.Stats(ctx, req.GetContractId(), req.GetPbpId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	out := &riskv1.GetProfileStatsResponse{Profiles: st.Profiles, TotalBytes: st.TotalBytes, MaxBytes: st.MaxBytes, Eligible: st.Eligible,
		ByTier: map[string]int64{}, ByProblem: st.ByProblem}
	for tier, n := range st.ByTier {
		out.ByTier[scoring.TierName(tier)] = n
	}
	return out, nil
}

func (g *GRPC) ListAssessments(ctx context.Context, req *riskv1.ListAssessmentsRequest) (*riskv1.ListAssessmentsResponse, error) {
	if req.GetMemberId() == "" {
		return nil, grpcx.BadField("member_id", "required")
	}
	if _, _, err := g.memberProfile(ctx, req.GetMemberId()); err != nil {
		return nil, err
	}
	as, err := g.a.Assessments(ctx, req.GetMemberId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "assessments: %v", err)
	}
	return &riskv1.ListAssessmentsResponse{Assessments: as}, nil
}
