// Package ports translates the bus and gRPC into the booking use case.
package ports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/performance"
)

// Subscriptions are payment-reconciliation's durables with the use case's
// handlers (the durables wait for the server to confirm each acknowledgement:
// money paths).
func Subscriptions(b *booking.Booker) []bus.Subscription {
	return []bus.Subscription{
		bus.Subscribe(bus.PaymentEncounters, bus.On(bus.Encounter, b.OnEncounter)),
		bus.Subscribe(bus.PaymentEnrollment, bus.On(bus.Enrollment, b.OnEnrollment)),
		bus.Subscribe(bus.PaymentMedical, bus.On(bus.PartsAB, b.OnPartsAB)),
		bus.Subscribe(bus.PaymentOutreach, bus.On(bus.OutreachItem, b.OnOutreach)), // accepted answers
	}
}

// Replay replays the ledger, then what the enrollment and Parts A/B
// durables received, into a rebuilding booker.
func Replay(js jetstream.JetStream) booking.Replayer {
	return func(ctx context.Context, to *booking.Booker) (r booking.Replayed, err error) {
		// An unreadable ledger entry stops the rebuild: the ledger is payment's own record.
		if r.LedgerMessages, err = bus.Replay(ctx, js, bus.StreamLedger, bus.Routes{bus.OnMsg(bus.LedgerEntry, func(ctx context.Context, e *ledgerv1.LedgerEntry, m *bus.Msg) error {
			return to.RestoreEntry(ctx, e, m.StreamSeq)
		})}.Handle); err != nil {
			return r, fmt.Errorf("replay %s: %w", bus.StreamLedger, err)
		}
		subs := Subscriptions(to)
		for _, x := range []struct {
			d bus.Durable
			n *int64
		}{{bus.PaymentEnrollment, &r.EnrollmentMessages}, {bus.PaymentMedical, &r.MedicalMessages}} {
			i := slices.IndexFunc(subs, func(s bus.Subscription) bool { return s.Durable.Name == x.d.Name })
			if *x.n, err = subs[i].Replay(ctx, js); err != nil {
				return r, fmt.Errorf("replay %s: %w", x.d.Stream, err)
			}
		}
		return r, nil
	}
}

// GRPC serves emtm.ledger.v1.PaymentReconciliationService.
type GRPC struct {
	ledgerv1.UnimplementedPaymentReconciliationServiceServer
	b  *booking.Booker
	js jetstream.JetStream
}

// NewGRPC returns the gRPC port.
func NewGRPC(b *booking.Booker, js jetstream.JetStream) *GRPC {
	return &GRPC{b: b, js: js}
}

func planArgs(contract, pbp string) error {
	if contract == "" {
		return grpcx.BadField("contract_id", "required")
	}
	if pbp == "" {
		return grpcx.BadField("pbp_id", "required")
	}
	return nil
}

func monthArg(m interface {
	GetYear() int32
	GetMonth() int32
}) (civil.Date, error) {
	d := civil.Date{Year: int(m.GetYear()), Month: time.Month(m.GetMonth()), Day: 1}
	if m.GetYear() < 2006 || m.GetYear() > 2100 || !d.Valid() {
		return d, grpcx.BadField("month", fmt.Sprintf("%04d-%02d is not a month from 2006", m.GetYear(), m.GetMonth()))
	}
	return d, nil
}

func unavailable(what string, err error) error {
	var np booking.ErrNoPolicy
	if errors.As(err, &np) {
		return status.Error(codes.NotFound, np.Error())
	}
	return status.Errorf(codes.Unavailable, "%s: %v", what, err)
}

func (g *GRPC) ListLedgerEntries(ctx context.Context, req *ledgerv1.ListLedgerEntriesRequest) (*ledgerv1.ListLedgerEntriesResponse, error) {
	limit := int(req.GetLimit())
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 10000:
		return nil, grpcx.BadField("limit", fmt.Sprintf("must be 1..10000, got %d", limit))
	}
	if ids := req.GetEntryIds(); len(ids) > 0 {
		if len(ids) > 1000 {
			return nil, grpcx.BadField("entry_ids", fmt.Sprintf("at most 1000, got %d", len(ids)))
		}
		es, err := g.b.EntriesByID(ctx, ids)
		if err != nil {
			return nil, unavailable("list entries", err)
		}
		out := &ledgerv1.ListLedgerEntriesResponse{}
		for _, e := range es {
			if e != nil && grpcx.MayActOnContract(ctx, e.ContractId) {
				out.Entries = append(out.Entries, e)
			}
		}
		return out, nil
	}
	if req.GetContractId() == "" && !grpcx.CallerOf(ctx).Operator() {
		return nil, status.Error(codes.PermissionDenied, "name your contract in contract_id: every contract's entries are for operators")
	}
	es, err := g.b.Entries(ctx, req.GetContractId(), req.GetKind(), limit)
	if err != nil {
		return nil, unavailable("list entries", err)
	}
	return &ledgerv1.ListLedgerEntriesResponse{Entries: es}, nil
}

func totalsProto(t booking.Totals) *ledgerv1.GetLedgerTotalsResponse {
	return &ledgerv1.GetLedgerTotalsResponse{Entries: t.Entries, TotalCents: t.Cents, Balances: t.Balances, EntriesByKind: t.ByKind}
}

func (g *GRPC) GetLedgerTotals(ctx context.Context, _ *ledgerv1.GetLedgerTotalsRequest) (*ledgerv1.GetLedgerTotalsResponse, error) {
	t, err := g.b.Totals(ctx)
	if err != nil {
		return nil, unavailable("ledger totals", err)
	}
	return totalsProto(t), nil
}

// GetFeeSchedule lists a plan's fee rules (its payment policy's fees).
func (g *GRPC) GetFeeSchedule(_ context.Context, req *ledgerv1.GetFeeScheduleRequest) (*ledgerv1.GetFeeScheduleResponse, error) {
	if err := planArgs(req.GetContractId(), req.GetPbpId()); err != nil {
		return nil, err
	}
	rules, err := g.b.FeeSchedule(req.GetContractId(), req.GetPbpId())
	if err != nil {
		return nil, unavailable("fee schedule", err)
	}
	out := &ledgerv1.GetFeeScheduleResponse{}
	for _, r := range rules {
		out.Rules = append(out.Rules, &ledgerv1.FeeRule{Service: r.Service, Description: r.Description, Codes: r.Codes,
			TaskKind: r.TaskKind, Outcome: r.Outcome, Cents: r.FeeCents, From: r.From.Proto()})
	}
	return out, nil
}

func (g *GRPC) GetStatement(ctx context.Context, req *ledgerv1.GetStatementRequest) (*ledgerv1.GetStatementResponse, error) {
	if err := planArgs(req.GetContractId(), req.GetPbpId()); err != nil {
		return nil, err
	}
	if _, err := monthArg(req.GetMonth()); err != nil {
		return nil, err
	}
	st, err := g.b.Statement(ctx, req.GetContractId(), req.GetPbpId(), req.GetMonth())
	if err != nil {
		return nil, unavailable("statement", err)
	}
	return &ledgerv1.GetStatementResponse{Statement: st}, nil
}

func (g *GRPC) GetRemittance(ctx context.Context, req *ledgerv1.GetRemittanceRequest) (*ledgerv1.GetRemittanceResponse, error) {
	if err := planArgs(req.GetContractId(), req.GetPbpId()); err != nil {
		return nil, err
	}
	if _, err := identifiers.NPI(req.GetPharmacyNpi()); err != nil {
		return nil, grpcx.BadField("pharmacy_npi", err.Error())
	}
	m, err := monthArg(req.GetMonth())
	if err != nil {
		return nil, err
	}
	es, err := g.b.MonthEntries(ctx, req.GetContractId(), req.GetPbpId(), m)
	if err != nil {
		return nil, unavailable("remittance", err)
	}
	out := &ledgerv1.GetRemittanceResponse{PharmacyNpi: req.GetPharmacyNpi()}
	for _, e := range es {
		if e.PharmacyNpi != req.GetPharmacyNpi() {
			continue
		}
		switch e.Kind {
		case ledgerv1.EntryKind_ENTRY_KIND_FEE:
			if out.TotalCents, err = money.Add(out.TotalCents, e.AmountCents); err != nil {
				return nil, status.Errorf(codes.DataLoss, "the remittance's total: %v", err)
			}
		case ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE:
			out.SuspenseItems++
		default:
			continue
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func calcProto(contract, pbp string, r performance.Result, booked *ledgerv1.LedgerEntry) *ledgerv1.PerformanceCalculation {
	c := &ledgerv1.PerformanceCalculation{
		ContractId: contract, PbpId: pbp, Year: int32(r.Year), AbCents: r.ABCents, AbSummaries: r.ABSummaries, AbUnpriced: r.ABUnpriced, MemberMonths: r.MemberMonths,
		PerMemberYearCents: r.PerMemberYearCents, HasBenchmark: r.HasBenchmark, BenchmarkCents: r.BenchmarkCents, ReductionBp: r.ReductionBP,
		ThresholdBp: r.Config.ThresholdBP, Qualifies: r.Qualifies, PaymentCents: r.PaymentCents, PayableYear: int32(r.PayableYear), Steps: r.Steps,
	}
	if booked != nil && booked.Kind == ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE {
		c.BookedCents, c.BookedEntryId = booked.AmountCents, booked.EntryId
	}
	return c
}

func yearArg(y int32) error {
	if y < 2006 || y > 2100 {
		return grpcx.BadField("year", fmt.Sprintf("%d is not a performance year", y))
	}
	return nil
}

func (g *GRPC) GetPerformance(ctx context.Context, req *ledgerv1.GetPerformanceRequest) (*ledgerv1.GetPerformanceResponse, error) {
	if err := planArgs(req.GetContractId(), req.GetPbpId()); err != nil {
		return nil, err
	}
	if err := yearArg(req.GetYear()); err != nil {
		return nil, err
	}
	r, booked, err := g.b.Performance(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetYear()))
	if err != nil {
		return nil, unavailable("performance", err)
	}
	return &ledgerv1.GetPerformanceResponse{Calculation: calcProto(req.GetContractId(), req.GetPbpId(), r, booked)}, nil
}

func (g *GRPC) SettlePerformance(ctx context.Context, req *ledgerv1.SettlePerformanceRequest) (*ledgerv1.SettlePerformanceResponse, error) {
	if err := planArgs(req.GetContractId(), req.GetPbpId()); err != nil {
		return nil, err
	}
	if err := yearArg(req.GetYear()); err != nil {
		return nil, err
	}
	_, es, err := g.b.SettlePerformance(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetYear()))
	if err != nil {
		return nil, unavailable("settle performance", err)
	}
	r, booked, err := g.b.Performance(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetYear()))
	if err != nil {
		return nil, unavailable("performance", err)
	}
	return &ledgerv1.SettlePerformanceResponse{Calculation: calcProto(req.GetContractId(), req.GetPbpId(), r, booked), Entries: es}, nil
}

func (g *GRPC) RebuildLedger(ctx context.Context, req *ledgerv1.RebuildLedgerRequest) (*ledgerv1.RebuildLedgerResponse, error) {
	res, err := g.b.Rebuild(ctx, Replay(g.js), req.GetReplace())
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "rebuild: %v", err)
	}
	return &ledgerv1.RebuildLedgerResponse{LedgerMessages: res.LedgerMessages, EnrollmentMessages: res.EnrollmentMessages, MedicalMessages: res.MedicalMessages,
		Live: totalsProto(res.Live), Rebuilt: totalsProto(res.Rebuilt), Equal: len(res.Differences) == 0, Differences: res.Differences, Replaced: res.Replaced}, nil
}

func (g *GRPC) Sweep(ctx context.Context, _ *ledgerv1.SweepRequest) (*ledgerv1.SweepResponse, error) {
	r, err := g.b.Sweep(ctx)
	if err != nil {
		return nil, unavailable("sweep", err)
	}
	return &ledgerv1.SweepResponse{Today: r.Today.Proto(), MemberMonthsBooked: int32(r.Booked), MemberMonthsReversed: int32(r.Reversed)}, nil
}
