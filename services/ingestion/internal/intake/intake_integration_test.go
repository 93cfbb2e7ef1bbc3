package intake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
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

func TestHeldReversalsAreSweptAndOverdueOnesReported(t *testing.T) {
	in, store, env, clk := newIntake(t)
	ctx := context.Background()
	for _, id := range []string{"RX-LATE", "RX-RACE"} {
		out, err := in.SubmitAPI(ctx, bus.KindReversal, rev(id))
		if err != nil || !out.Held {
			t.Fatalf("%s: %+v %v", id, out, err)
		}
	}
	// The race: RX-RACE's claim was published and completed while its reversal
	// was being held, so the claim's own release found nothing to release.
	if err := store.Complete(ctx, "claim:RX-RACE", "h"); err != nil {
		t.Fatal(err)
	}
	clk.Add(4 * 24 * time.Hour)
	held, late, err := in.SweepHeld(ctx, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if held != 1 || late != 1 {
		t.Fatalf("held %d, overdue %d; want 1 and 1 (RX-LATE)", held, late)
	}
	msgs := testkit.Decode(t, env.JS, bus.StreamClaims, func() *claimsv1.ClaimReversal { return &claimsv1.ClaimReversal{} })
	if len(msgs) != 1 || msgs[0].ClaimId != "RX-RACE" || msgs[0].GetMeta().GetEventId() != "reversal/RX-RACE" {
		t.Fatalf("released %v", msgs)
	}
	left, _ := in.ListHeld(ctx, 10)
	if len(left) != 1 || left[0].ClaimID != "RX-LATE" || !left[0].Since.Equal(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("still held %+v", left)
	}
	// Sweeping again changes nothing.
	if h, l, err := in.SweepHeld(ctx, 72*time.Hour); err != nil || h != 1 || l != 1 {
		t.Fatalf("second sweep: %d %d %v", h, l, err)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamClaims)); n != 1 {
		t.Fatalf("%d messages after a second sweep, want 1", n)
	}
}
