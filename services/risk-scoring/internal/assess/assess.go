// Package assess is risk-scoring's use case: apply a claim or reversal to the
// beneficiary's profile (one atomic, idempotent step), score the profile, and
// emit an assessment only when the tier or the problems change.
package assess

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// Publisher publishes to the bus.
type Publisher interface {
	Publish(ctx context.Context, outs ...bus.Out) ([]*jetstream.PubAck, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Assessor runs the use case.
type Assessor struct {
	store      *adapters.Store
	pub        Publisher
	ref        *drugref.Reference
	policy     scoring.Policy
	partitions int
	hasher     *pseudonym.Hasher
}

// New returns an Assessor.
func New(store *adapters.Store, pub Publisher, ref *drugref.Reference, policy scoring.Policy, partitions int, hasher *pseudonym.Hasher) *Assessor {
	return &Assessor{store: store, pub: pub, ref: ref, policy: policy, partitions: partitions, hasher: hasher}
}

// FillOf is the profile's view of a claim. Ingredients come from the claim, or
// from the drug reference by RxNorm code when the claim names none.
func (a *Assessor) FillOf(c *claimsv1.PharmacyClaim) profile.Fill {
	ings := c.Ingredients
	if len(ings) == 0 {
		ings, _ = a.ref.Resolve(c.RxnormCode, c.DrugDescription)
	}
	return profile.Fill{
		ClaimID: c.ClaimId, Date: civil.FromProto(c.DateOfService), DaysSupply: int(c.DaysSupply),
		CostCents: c.TotalCents, PrescriberNPI: c.PrescriberNpi, Ingredients: ings,
	}
}

// OnClaim applies a paid claim.
func (a *Assessor) OnClaim(ctx context.Context, c *claimsv1.PharmacyClaim) error {
	a.tag(ctx, c.MemberId)
	_, p, err := a.store.ApplyClaim(ctx, c.MemberId, a.FillOf(c),
		profile.EncodeDate(civil.FromProto(c.BirthDate)), c.ContractId+"-"+c.PbpId)
	if err != nil {
		return err
	}
	return a.emitIfChanged(ctx, p, c.GetMeta().GetEventId())
}

// OnReversal applies a claim reversal.
func (a *Assessor) OnReversal(ctx context.Context, r *claimsv1.ClaimReversal) error {
	a.tag(ctx, r.MemberId)
	_, p, err := a.store.ApplyReversal(ctx, r.MemberId, r.ClaimId)
	if err != nil {
		return err
	}
	if p.ContractID == "" {
		p.ContractID, p.PbpID = r.ContractId, r.PbpId
	}
	return a.emitIfChanged(ctx, p, r.GetMeta().GetEventId())
}

// tag puts the keyed hash of the beneficiary (never the id) on the span.
func (a *Assessor) tag(ctx context.Context, member string) {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("emtm.beneficiary", a.hasher.Of(member)))
}

// emitIfChanged publishes an assessment when the fingerprint differs from the
// last one emitted. A redelivered event re-derives the same assessment id, so
// a crash between publishing and saving cannot emit it twice.
func (a *Assessor) emitIfChanged(ctx context.Context, p *profile.Profile, causeID string) error {
	r := scoring.Assess(p, a.ref, a.policy)
	fp := r.Fingerprint()
	if fp == p.Fingerprint || (p.Fingerprint == "" && len(p.Fills) == 0) {
		return nil
	}
	if causeID == "" {
		return bus.Permanent(fmt.Errorf("event without an event id"))
	}
	id := "asmt/" + causeID
	msg := ToProto(p, r)
	msg.Meta = a.pub.Meta(ctx, id, causeID)
	msg.AssessmentId = id
	msg.PreviousTier = riskv1.RiskTier(p.Tier)
	if _, err := a.pub.Publish(ctx, bus.Out{Subject: bus.AssessmentSubject(bus.Partition(p.MemberID, a.partitions)), MsgID: id, Msg: msg}); err != nil {
		return err
	}
	return a.store.SaveAssessment(ctx, p, fp, r.Tier)
}

// Current scores a stored profile now (for the API).
func (a *Assessor) Current(p *profile.Profile) *riskv1.RiskAssessment {
	return ToProto(p, scoring.Assess(p, a.ref, a.policy))
}

// ToProto renders a scoring result as a RiskAssessment (without meta and ids).
func ToProto(p *profile.Profile, r scoring.Result) *riskv1.RiskAssessment {
	out := &riskv1.RiskAssessment{
		MemberId: p.MemberID, ContractId: p.ContractID, PbpId: p.PbpID,
		AsOf: r.AsOf.Proto(), Score: int32(r.Score), Tier: riskv1.RiskTier(r.Tier),
	}
	for _, f := range r.Factors {
		out.Factors = append(out.Factors, &riskv1.RiskFactor{Code: f.Code, Description: f.Description, Points: int32(f.Points), Evidence: f.Evidence})
	}
	for _, pr := range r.Problems {
		out.Problems = append(out.Problems, &riskv1.DrugTherapyProblem{
			Code: pr.Code, Key: pr.Key, Description: pr.Description, Recommendation: pr.Recommendation,
			ClaimIds: pr.ClaimIDs, PrescriberNpis: pr.PrescriberNPIs, Source: pr.Source,
		})
	}
	return out
}
