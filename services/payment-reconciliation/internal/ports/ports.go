// Package ports translates the bus and gRPC into the booking use case.
package ports

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
)

// EncountersHandler consumes EMTM_ENCOUNTERS.
func EncountersHandler(b *booking.Booker) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var e encountersv1.MtmEncounter
		if err := proto.Unmarshal(m.Data, &e); err != nil {
			return bus.Permanent(fmt.Errorf("decode encounter: %w", err))
		}
		return b.OnEncounter(ctx, &e)
	}
}

// GRPC serves emtm.ledger.v1.PaymentReconciliationService.
type GRPC struct {
	ledgerv1.UnimplementedPaymentReconciliationServiceServer
	b *booking.Booker
}

// NewGRPC returns the gRPC port.
func NewGRPC(b *booking.Booker) *GRPC { return &GRPC{b: b} }

func (g *GRPC) ListLedgerEntries(ctx context.Context, req *ledgerv1.ListLedgerEntriesRequest) (*ledgerv1.ListLedgerEntriesResponse, error) {
	limit := int(req.GetLimit())
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 10000:
		return nil, status.Errorf(codes.InvalidArgument, "limit must be 1..10000, got %d", limit)
	}
	es, err := g.b.Entries(ctx, req.GetContractId(), limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list entries: %v", err)
	}
	return &ledgerv1.ListLedgerEntriesResponse{Entries: es}, nil
}

func (g *GRPC) GetLedgerTotals(ctx context.Context, _ *ledgerv1.GetLedgerTotalsRequest) (*ledgerv1.GetLedgerTotalsResponse, error) {
	n, cents, bal, err := g.b.Totals(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "ledger totals: %v", err)
	}
	return &ledgerv1.GetLedgerTotalsResponse{Entries: n, TotalCents: cents, Balances: bal}, nil
}
