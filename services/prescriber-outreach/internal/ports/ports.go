// Package ports translates the bus and gRPC into the outreach use case.
package ports

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
)

// Subscriptions are prescriber-outreach's durables with the use case's handlers.
func Subscriptions(o *outreach.Outreach) []bus.Subscription {
	return []bus.Subscription{
		bus.Subscribe(bus.OutreachAssessments, bus.On(bus.Assessment, o.OnAssessment)),
		bus.Subscribe(bus.OutreachEncounters, bus.On(bus.Encounter, o.OnEncounter)), // prescriber responses
	}
}

// GRPC serves emtm.outreach.v1.PrescriberOutreachService.
type GRPC struct {
	outreachv1.UnimplementedPrescriberOutreachServiceServer
	o *outreach.Outreach
}

// NewGRPC returns the gRPC port.
func NewGRPC(o *outreach.Outreach) *GRPC { return &GRPC{o: o} }

func npiArg(npi string) error {
	if _, err := identifiers.NPI(npi); err != nil {
		return grpcx.BadField("prescriber_npi", err.Error())
	}
	return nil
}

func (g *GRPC) ListOutreach(ctx context.Context, req *outreachv1.ListOutreachRequest) (*outreachv1.ListOutreachResponse, error) {
	if err := npiArg(req.GetPrescriberNpi()); err != nil {
		return nil, err
	}
	n, err := grpcx.Limit(req.GetLimit(), 100, 1000)
	if err != nil {
		return nil, err
	}
	items, err := g.o.ByPrescriber(ctx, req.GetPrescriberNpi(), n)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list outreach: %v", err)
	}
	visible := items[:0]
	for _, it := range items {
		if grpcx.MayActOnContract(ctx, it.ContractId) { // a sponsor sees its own contracts' items
			visible = append(visible, it)
		}
	}
	return &outreachv1.ListOutreachResponse{Items: visible}, nil
}

func (g *GRPC) GetOutreachCounts(ctx context.Context, _ *outreachv1.GetOutreachCountsRequest) (*outreachv1.GetOutreachCountsResponse, error) {
	c, err := g.o.Counts(ctx, "")
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "outreach counts: %v", err)
	}
	return &outreachv1.GetOutreachCountsResponse{Items: c.Items, ByProblem: c.ByProblem}, nil
}

func (g *GRPC) RecordResponse(ctx context.Context, req *outreachv1.RecordResponseRequest) (*outreachv1.RecordResponseResponse, error) {
	if req.GetItemId() == "" {
		return nil, grpcx.BadField("item_id", "required")
	}
	var st string
	switch req.GetStatus() {
	case outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED:
		st = outreach.Accepted
	case outreachv1.OutreachStatus_OUTREACH_STATUS_DECLINED:
		st = outreach.Declined
	default:
		return nil, grpcx.BadField("status", fmt.Sprintf("%s is not a response: use ACCEPTED or DECLINED", req.GetStatus()))
	}
	on := civil.FromProto(req.GetRespondedOn())
	if !on.IsZero() && !on.Valid() {
		return nil, grpcx.BadField("responded_on", "not a calendar date")
	}
	if len(req.GetNote()) > 2000 {
		return nil, grpcx.BadField("note", "at most 2000 characters")
	}
	if req.GetPharmacyNpi() != "" {
		if _, err := identifiers.NPI(req.GetPharmacyNpi()); err != nil {
			return nil, grpcx.BadField("pharmacy_npi", err.Error())
		}
	}
	if it, err := g.o.Item(ctx, req.GetItemId()); err != nil {
		return nil, status.Errorf(codes.Unavailable, "record response: %v", err)
	} else if it == nil || !grpcx.MayActOnContract(ctx, it.ContractId) {
		return nil, status.Errorf(codes.NotFound, "item %q: no such item", req.GetItemId())
	}
	// The pharmacy named earns the fee of an accepted recommendation: a
	// sponsor's staff does not choose it. A pharmacy reports an answer it
	// obtained in its MTM encounter (prescriber_responses), in its own name.
	if c := grpcx.CallerOf(ctx); req.GetPharmacyNpi() != "" && c.Restricted && !c.Operator() {
		return nil, status.Error(codes.PermissionDenied, "pharmacy_npi: only an operator may name the pharmacy that earns the fee; "+
			"a pharmacy reports an answer it obtained in its MTM encounter (prescriber_responses)")
	}
	it, err := g.o.Respond(ctx, req.GetItemId(), st, on, req.GetNote(), "api", req.GetPharmacyNpi())
	var na outreach.NotAllowedError
	switch {
	case errors.Is(err, outreach.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "item %q: %v", req.GetItemId(), outreach.ErrNotFound)
	case errors.As(err, &na):
		return nil, status.Error(codes.FailedPrecondition, na.Reason)
	case err != nil:
		return nil, status.Errorf(codes.Unavailable, "record response: %v", err)
	}
	return &outreachv1.RecordResponseResponse{Item: it}, nil
}

func (g *GRPC) ListCommunications(ctx context.Context, req *outreachv1.ListCommunicationsRequest) (*outreachv1.ListCommunicationsResponse, error) {
	if err := npiArg(req.GetPrescriberNpi()); err != nil {
		return nil, err
	}
	n, err := grpcx.Limit(req.GetLimit(), 20, 500)
	if err != nil {
		return nil, err
	}
	cs, err := g.o.Communications(ctx, req.GetPrescriberNpi(), n)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list communications: %v", err)
	}
	visible := cs[:0]
	for _, c := range cs {
		if len(c.Items) > 0 && grpcx.MayActOnContract(ctx, c.Items[0].ContractId) { // a letter is one plan's
			visible = append(visible, c)
		}
	}
	return &outreachv1.ListCommunicationsResponse{Communications: visible}, nil
}

// responseCounts turns status counters into ResponseCounts.
func responseCounts(key string, m map[string]int64) *outreachv1.ResponseCounts {
	r := &outreachv1.ResponseCounts{Key: key, Pending: m[outreach.Pending], Sent: m[outreach.Sent],
		Accepted: m[outreach.Accepted], Declined: m[outreach.Declined], NoResponse: m[outreach.NoResponse], Superseded: m[outreach.Superseded]}
	if d := r.Accepted + r.Declined + r.NoResponse; d > 0 {
		r.AcceptanceRate = float64(r.Accepted) / float64(d)
	}
	return r
}

func (g *GRPC) GetOutreachStats(ctx context.Context, req *outreachv1.GetOutreachStatsRequest) (*outreachv1.GetOutreachStatsResponse, error) {
	plan, err := grpcx.PlanScope(ctx, req.GetContractId(), req.GetPbpId(), "outreach statistics")
	if err != nil {
		return nil, err
	}
	c, err := g.o.Counts(ctx, plan)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "outreach stats: %v", err)
	}
	out := &outreachv1.GetOutreachStatsResponse{Communications: c.Comms, Suppressed: c.Suppressed, UnmatchedResponses: c.Unmatched}
	total := map[string]int64{}
	list := func(by map[string]map[string]int64, add bool) []*outreachv1.ResponseCounts {
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var rs []*outreachv1.ResponseCounts
		for _, k := range keys {
			rs = append(rs, responseCounts(k, by[k]))
			if add {
				for st, n := range by[k] {
					total[st] += n
				}
			}
		}
		return rs
	}
	out.ByPrescriber = list(c.ByNPI, true)
	out.ByProblem = list(c.ByCode, false)
	out.Total = responseCounts("total", total)
	return out, nil
}

func (g *GRPC) Sweep(ctx context.Context, _ *outreachv1.SweepRequest) (*outreachv1.SweepResponse, error) {
	r, err := g.o.Sweep(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "sweep: %v", err)
	}
	return &outreachv1.SweepResponse{Today: r.Today.Proto(), Communications: int32(r.Communications), NoResponse: int32(r.NoResponse)}, nil
}
