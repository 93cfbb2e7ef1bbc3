// Package ports translates between the transports (gRPC, NATS) and the intake use case.
package ports

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

// GRPC serves emtm.ingestion.v1.IngestionService.
type GRPC struct {
	ingestionv1.UnimplementedIngestionServiceServer
	intake *intake.Intake
	js     jetstream.JetStream
}

// NewGRPC returns the gRPC port.
func NewGRPC(in *intake.Intake, js jetstream.JetStream) *GRPC {
	return &GRPC{intake: in, js: js}
}

// fromCaller is the role a caller submits kind in: with mTLS, a pharmacy for
// the NPIs of its certificate, or the sponsor's feed for its contracts; an
// operator (or a caller without a client certificate) is trusted.
func fromCaller(ctx context.Context, kind string) intake.From {
	c := grpcx.CallerOf(ctx)
	if !c.Restricted || c.Operator() {
		return intake.From{Name: c.Name}
	}
	switch kind {
	case bus.KindClaim, bus.KindReversal, bus.KindEncounter, bus.KindCarePlan:
		return intake.From{Role: intake.RolePharmacy, Allowed: c.Pharmacies, Name: c.Name}
	}
	return intake.From{Role: intake.RoleFeed, Allowed: c.Feeds, Name: c.Name}
}

func (g *GRPC) submit(ctx context.Context, kind string, msg proto.Message) (*ingestionv1.Accepted, error) {
	out, err := g.intake.SubmitAPI(ctx, kind, msg, fromCaller(ctx, kind))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "submission not stored, retry: %v", err)
	}
	if out.Rejection != nil {
		return nil, RejectionStatus(out.Rejection)
	}
	return accepted(out), nil
}

func accepted(out intake.Outcome) *ingestionv1.Accepted {
	return &ingestionv1.Accepted{EventId: out.EventID, Duplicate: out.Duplicate, RawSequence: out.RawSeq, Held: out.Held, AwaitingEnrollment: out.AwaitingEnrollment}
}

// RejectionStatus is INVALID_ARGUMENT with google.rpc.BadRequest field violations.
func RejectionStatus(r *ingestionv1.Rejection) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("%s rejected (%s): %d problem(s); the first: %s",
		r.Kind, r.RejectionId, len(r.Violations), r.Violations[0].Description))
	br := &errdetails.BadRequest{}
	for _, v := range r.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description, Reason: v.Reason,
		})
	}
	info := &errdetails.ErrorInfo{Reason: "REJECTED", Domain: "emtm.ingestion", Metadata: map[string]string{"rejection_id": r.RejectionId}}
	if d, err := st.WithDetails(br, info); err == nil {
		st = d
	}
	return st.Err()
}

func (g *GRPC) SubmitClaim(ctx context.Context, req *ingestionv1.SubmitClaimRequest) (*ingestionv1.SubmitClaimResponse, error) {
	a, err := g.submit(ctx, bus.KindClaim, req.GetClaim())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitClaimResponse{Accepted: a}, nil
}

func (g *GRPC) SubmitReversal(ctx context.Context, req *ingestionv1.SubmitReversalRequest) (*ingestionv1.SubmitReversalResponse, error) {
	a, err := g.submit(ctx, bus.KindReversal, req.GetReversal())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitReversalResponse{Accepted: a}, nil
}

func (g *GRPC) SubmitEncounter(ctx context.Context, req *ingestionv1.SubmitEncounterRequest) (*ingestionv1.SubmitEncounterResponse, error) {
	a, err := g.submit(ctx, bus.KindEncounter, req.GetEncounter())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitEncounterResponse{Accepted: a}, nil
}

// SubmitCarePlan reads a Pharmacist eCare Plan into the MTM encounter it records.
func (g *GRPC) SubmitCarePlan(ctx context.Context, req *ingestionv1.SubmitCarePlanRequest) (*ingestionv1.SubmitCarePlanResponse, error) {
	out, err := g.intake.SubmitAPIDocument(ctx, bus.KindCarePlan, req.GetContentType(), req.GetBundle(), fromCaller(ctx, bus.KindCarePlan))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "submission not stored, retry: %v", err)
	}
	if out.Rejection != nil {
		return nil, RejectionStatus(out.Rejection)
	}
	return &ingestionv1.SubmitCarePlanResponse{Accepted: accepted(out)}, nil
}

func (g *GRPC) SubmitEnrollment(ctx context.Context, req *ingestionv1.SubmitEnrollmentRequest) (*ingestionv1.SubmitEnrollmentResponse, error) {
	a, err := g.submit(ctx, bus.KindEnrollment, req.GetEnrollment())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitEnrollmentResponse{Accepted: a}, nil
}

func (g *GRPC) SubmitPartsAbSummary(ctx context.Context, req *ingestionv1.SubmitPartsAbSummaryRequest) (*ingestionv1.SubmitPartsAbSummaryResponse, error) {
	a, err := g.submit(ctx, bus.KindMedical, req.GetSummary())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitPartsAbSummaryResponse{Accepted: a}, nil
}

func (g *GRPC) SubmitCondition(ctx context.Context, req *ingestionv1.SubmitConditionRequest) (*ingestionv1.SubmitConditionResponse, error) {
	a, err := g.submit(ctx, bus.KindCondition, req.GetCondition())
	if err != nil {
		return nil, err
	}
	return &ingestionv1.SubmitConditionResponse{Accepted: a}, nil
}

func (g *GRPC) GetRejection(ctx context.Context, req *ingestionv1.GetRejectionRequest) (*ingestionv1.GetRejectionResponse, error) {
	r, err := g.load(ctx, req.GetRejectionId())
	if err != nil {
		return nil, err
	}
	st, err := g.statuses(ctx, []string{r.RejectionId})
	if err != nil {
		return nil, err
	}
	return &ingestionv1.GetRejectionResponse{Rejection: r, Status: st[0]}, nil
}

func (g *GRPC) statuses(ctx context.Context, ids []string) ([]*ingestionv1.RejectionStatus, error) {
	sts, err := g.intake.RejectionStatuses(ctx, ids)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "rejection statuses: %v", err)
	}
	out := make([]*ingestionv1.RejectionStatus, len(ids))
	for i, id := range ids {
		out[i] = &ingestionv1.RejectionStatus{RejectionId: id, ResolvedEventId: sts[i].ResolvedBy, Resubmissions: int32(sts[i].Resubmissions),
			LastRejectionId: sts[i].LastRejection, Handled: sts[i].Handled}
	}
	return out, nil
}

// MarkRejectionHandled records an operator's note that a rejection needs nothing more.
func (g *GRPC) MarkRejectionHandled(ctx context.Context, req *ingestionv1.MarkRejectionHandledRequest) (*ingestionv1.MarkRejectionHandledResponse, error) {
	note := strings.TrimSpace(req.GetNote())
	switch {
	case note == "":
		return nil, status.Error(codes.InvalidArgument, "note: say what was done (an auditor reads it)")
	case len(note) > 500 || strings.ContainsFunc(note, unicode.IsControl):
		return nil, status.Error(codes.InvalidArgument, "note: at most 500 printable characters")
	}
	r, err := g.load(ctx, req.GetRejectionId())
	if err != nil {
		return nil, err
	}
	mark := fmt.Sprintf("%s by %s: %s", time.Now().UTC().Format(time.RFC3339), grpcx.CallerOf(ctx).Name, note)
	if err := g.intake.MarkHandled(ctx, r.RejectionId, mark); err != nil {
		return nil, status.Errorf(codes.Unavailable, "mark handled: %v", err)
	}
	st, err := g.statuses(ctx, []string{r.RejectionId})
	if err != nil {
		return nil, err
	}
	return &ingestionv1.MarkRejectionHandledResponse{Status: st[0]}, nil
}

func (g *GRPC) ListRejections(ctx context.Context, req *ingestionv1.ListRejectionsRequest) (*ingestionv1.ListRejectionsResponse, error) {
	limit, err := limitOf(req.GetLimit(), 1000)
	if err != nil {
		return nil, err
	}
	ids, err := g.intake.RecentRejections(ctx, req.GetKind(), limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list rejections: %v", err)
	}
	resp := &ingestionv1.ListRejectionsResponse{}
	for _, id := range ids {
		r, err := g.load(ctx, id)
		if err != nil {
			return nil, err
		}
		resp.Rejections = append(resp.Rejections, r)
	}
	if resp.Statuses, err = g.statuses(ctx, ids); err != nil {
		return nil, err
	}
	return resp, nil
}

func (g *GRPC) ResubmitRejection(ctx context.Context, req *ingestionv1.ResubmitRejectionRequest) (*ingestionv1.ResubmitRejectionResponse, error) {
	rej, err := g.load(ctx, req.GetRejectionId())
	if err != nil {
		return nil, err
	}
	out, err := g.intake.Resubmit(ctx, rej)
	switch {
	case errors.Is(err, intake.ErrNotResubmittable):
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case err != nil:
		return nil, status.Errorf(codes.Unavailable, "resubmission not stored, retry: %v", err)
	case out.Rejection != nil:
		return &ingestionv1.ResubmitRejectionResponse{Rejection: out.Rejection}, nil
	}
	return &ingestionv1.ResubmitRejectionResponse{Accepted: accepted(out)}, nil
}

func (g *GRPC) ListHeldReversals(ctx context.Context, req *ingestionv1.ListHeldReversalsRequest) (*ingestionv1.ListHeldReversalsResponse, error) {
	limit, err := limitOf(req.GetLimit(), 10000)
	if err != nil {
		return nil, err
	}
	hs, err := g.intake.ListHeld(ctx, limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "held reversals: %v", err)
	}
	resp := &ingestionv1.ListHeldReversalsResponse{}
	for _, h := range hs {
		resp.Reversals = append(resp.Reversals, &ingestionv1.HeldReversal{ClaimId: h.ClaimID, PharmacyNpi: h.PharmacyNPI,
			HeldSince: timestamppb.New(h.Since), RawSequence: h.RawSeq})
	}
	return resp, nil
}

// ListAwaitingEnrollment lists claims and encounters waiting for their member's enrollment.
func (g *GRPC) ListAwaitingEnrollment(ctx context.Context, req *ingestionv1.ListAwaitingEnrollmentRequest) (*ingestionv1.ListAwaitingEnrollmentResponse, error) {
	limit, err := limitOf(req.GetLimit(), 10000)
	if err != nil {
		return nil, err
	}
	as, err := g.intake.ListAwaiting(ctx, limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "submissions awaiting enrollment: %v", err)
	}
	resp := &ingestionv1.ListAwaitingEnrollmentResponse{}
	for _, a := range as {
		resp.Submissions = append(resp.Submissions, &ingestionv1.AwaitingEnrollment{Kind: a.Kind, MemberId: a.Member, Sender: a.Sender,
			Since: timestamppb.New(a.Since), RawSequence: a.RawSeq})
	}
	return resp, nil
}

func (g *GRPC) load(ctx context.Context, id string) (*ingestionv1.Rejection, error) {
	seq, err := g.intake.RejectionSeq(ctx, id)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "look up rejection: %v", err)
	}
	if seq == 0 {
		return nil, status.Errorf(codes.NotFound, "no rejection %q", id)
	}
	st, err := g.js.Stream(ctx, bus.StreamRejections)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "rejections stream: %v", err)
	}
	raw, err := st.GetMsg(ctx, seq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, status.Errorf(codes.DataLoss, "rejection %s is indexed at sequence %d but the stream no longer holds it", id, seq)
		}
		return nil, status.Errorf(codes.Unavailable, "read rejection: %v", err)
	}
	var r ingestionv1.Rejection
	if err := proto.Unmarshal(raw.Data, &r); err != nil {
		return nil, status.Errorf(codes.DataLoss, "rejection %s is unreadable: %v", id, err)
	}
	return &r, nil
}

// limitOf is a request's limit: 100 when unset, else 1..max.
func limitOf(limit int32, max int) (int, error) {
	switch {
	case limit == 0:
		return 100, nil
	case limit < 0 || int(limit) > max:
		return 0, status.Errorf(codes.InvalidArgument, "limit must be 1..%d, got %d", max, limit)
	}
	return int(limit), nil
}

func (g *GRPC) FindClaim(ctx context.Context, req *ingestionv1.FindClaimRequest) (*ingestionv1.FindClaimResponse, error) {
	id := req.GetClaimId()
	if id == "" || len(id) > 64 {
		return nil, grpcx.BadField("claim_id", "required, at most 64 characters")
	}
	recs, rejections, err := g.intake.ClaimJourneys(ctx, id)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "claim journeys: %v", err)
	}
	out := &ingestionv1.FindClaimResponse{}
	for _, r := range recs {
		if !grpcx.MayActOnContract(ctx, r.Facts.Contract) {
			continue // another sponsor's claim is missing, as its members are
		}
		out.Claims = append(out.Claims, &ingestionv1.ClaimRecord{PharmacyNpi: r.PharmacyNPI, ClaimId: r.ClaimID, MemberId: r.Facts.Member,
			ContractId: r.Facts.Contract, PbpId: r.Facts.PBP, DateOfService: r.Facts.Date.Proto(), EventId: r.EventID, TraceId: r.TraceID,
			RawSequence: r.RawSeq, ClaimSequence: r.ClaimSeq, RecordedAt: timestamppb.New(r.RecordedAt)})
	}
	// A rejection names no verified contract: operators only.
	if grpcx.CallerOf(ctx).Operator() {
		for _, rid := range rejections {
			r, err := g.load(ctx, rid)
			if err != nil {
				return nil, err
			}
			out.Rejections = append(out.Rejections, r)
		}
	}
	if len(out.Claims) == 0 && len(out.Rejections) == 0 {
		return nil, status.Errorf(codes.NotFound, "no claim with claim_id %q", id)
	}
	return out, nil
}
