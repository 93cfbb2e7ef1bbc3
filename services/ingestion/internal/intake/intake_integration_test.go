package intake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/internal/adapters"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newIntake(t *testing.T) (*intake.Intake, *adapters.Store, *testkit.Env, *clock) {
	t.Helper()
	env := testkit.Start(t)
	tel, _ := otelx.Setup(context.Background(), "intake-test", nil)
	clk := &clock{now: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
	store := adapters.NewStore(env.Redis)
	return intake.New(bus.NewPublisher(env.JS, tel, "ingestion"), store, 4, time.UTC, intake.WithClock(clk.Now)), store, env, clk
}

func rev(id string) *claimsv1.ClaimReversal {
	return &claimsv1.ClaimReversal{ClaimId: id, MemberId: "M1", ContractId: "S9925", PbpId: "001",
		PharmacyNpi: "1245319599", ReversalDate: &typesv1.Date{Year: 2024, Month: 5, Day: 2}}
}

func TestHeldReversalsAreSweptAndOverdueOnesRejected(t *testing.T) {
	in, store, env, clk := newIntake(t)
	ctx := context.Background()
	for _, id := range []string{"RX-LATE", "RX-RACE", "RX-WAIT"} {
		out, err := in.SubmitAPI(ctx, bus.KindReversal, rev(id))
		if err != nil || !out.Held {
			t.Fatalf("%s: %+v %v", id, out, err)
		}
		if id == "RX-RACE" {
			clk.Add(2 * 24 * time.Hour) // RX-WAIT is two days younger than the others
		}
	}
	// The race: RX-RACE's claim was published and completed while its reversal
	// was being held, so the claim's own release found nothing to release.
	if err := store.Complete(ctx, "claim:RX-RACE", "h"); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * 24 * time.Hour)
	held, rejected, err := in.SweepHeld(ctx, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if held != 1 || rejected != 1 {
		t.Fatalf("held %d, rejected %d; want 1 (RX-WAIT) and 1 (RX-LATE)", held, rejected)
	}
	msgs := testkit.Decode(t, env.JS, bus.StreamClaims, func() *claimsv1.ClaimReversal { return &claimsv1.ClaimReversal{} })
	if len(msgs) != 1 || msgs[0].ClaimId != "RX-RACE" || msgs[0].GetMeta().GetEventId() != "reversal/RX-RACE" {
		t.Fatalf("released %v", msgs)
	}
	rejs := testkit.Decode(t, env.JS, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	if len(rejs) != 1 || rejs[0].Kind != bus.KindReversal || len(rejs[0].Violations) != 1 ||
		rejs[0].Violations[0].Reason != "UNKNOWN_CLAIM" || rejs[0].Violations[0].Field != "claim_id" {
		t.Fatalf("rejections %v, want one UNKNOWN_CLAIM on claim_id", rejs)
	}
	var r claimsv1.ClaimReversal
	if err := proto.Unmarshal(rejs[0].Payload, &r); err != nil || r.ClaimId != "RX-LATE" {
		t.Fatalf("the rejection keeps %q (%v), want RX-LATE's reversal to resubmit", r.ClaimId, err)
	}
	left, _ := in.ListHeld(ctx, 10)
	if len(left) != 1 || left[0].ClaimID != "RX-WAIT" {
		t.Fatalf("still held %+v, want RX-WAIT", left)
	}
	// Sweeping again changes nothing.
	if h, r, err := in.SweepHeld(ctx, 72*time.Hour); err != nil || h != 1 || r != 0 {
		t.Fatalf("second sweep: %d %d %v", h, r, err)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamClaims)); n != 1 {
		t.Fatalf("%d messages after a second sweep, want 1", n)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamRejections)); n != 1 {
		t.Fatalf("%d rejections after a second sweep, want 1", n)
	}
	// Once the claim is in, the rejected reversal is resubmitted and published.
	if err := store.Complete(ctx, "claim:RX-LATE", "h"); err != nil {
		t.Fatal(err)
	}
	out, err := in.Resubmit(ctx, rejs[0])
	if err != nil || out.Rejection != nil || out.Held || out.EventID != "reversal/RX-LATE" {
		t.Fatalf("resubmit: %+v %v", out, err)
	}
}
