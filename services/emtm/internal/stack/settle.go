package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/emtm/emtm/libs/bus"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// Settle waits until every consumer is idle, runs the scheduling, outreach
// and payment sweeps (so that expiry, letters and member months reflect the
// final clocks), and waits again for what they published; all within within.
// conns are the services' connections by name.
func Settle(ctx context.Context, js jetstream.JetStream, conns map[string]*grpc.ClientConn, within time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := bus.WaitIdle(wctx, js, 50*time.Millisecond); err != nil {
		return err
	}
	if _, err := schedulingv1.NewInterventionSchedulingServiceClient(conns["intervention-scheduling"]).Sweep(wctx, &schedulingv1.SweepRequest{}); err != nil {
		return fmt.Errorf("scheduling sweep: %w", err)
	}
	if _, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).Sweep(wctx, &outreachv1.SweepRequest{}); err != nil {
		return fmt.Errorf("outreach sweep: %w", err)
	}
	if err := bus.WaitIdle(wctx, js, 50*time.Millisecond); err != nil {
		return err
	}
	if _, err := ledgerv1.NewPaymentReconciliationServiceClient(conns["payment-reconciliation"]).Sweep(wctx, &ledgerv1.SweepRequest{}); err != nil {
		return fmt.Errorf("payment sweep: %w", err)
	}
	return bus.WaitIdle(wctx, js, 50*time.Millisecond)
}
