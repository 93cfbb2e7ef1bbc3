package intake_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

// fromPharmacy is a submission of kind as the pharmacy publishes it on the
// bus, stored raw at rawSeq.
func fromPharmacy(t *testing.T, kind string, msg proto.Message, rawSeq uint64) intake.Submission {
	t.Helper()
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return intake.Submission{Ctx: context.Background(), Kind: kind, Msg: msg, Src: intake.Source{Channel: intake.ChannelNATS,
		Role: intake.RolePharmacy, Allowed: []string{pharmacy}, Sender: pharmacy, RawSubject: bus.RawPharmacySubject(pharmacy, kind),
		RawSeq: rawSeq, ContentType: bus.ContentProtobuf, Payload: b}}
}

// A batch of claims ends each claim as Submit would have: a duplicate is a
// duplicate, a conflicting one and an invalid one are rejected, one of a
// member without enrollment waits, another kind goes through Submit's rules
// (a pharmacy may not send enrollment), a claim with a reversal held for it is
// published and then its reversal; a claim outside its member's enrollment
// is rejected and one of a member without enrollment waits, and neither keeps
// its id reserved (a corrected claim under the same id is accepted); and a
// batch of new valid claims takes two Redis round trips whatever its size.
func TestABatchOfClaimsEndsEachAsSubmitWouldInTwoRedisRoundTrips(t *testing.T) {
	t.Parallel()
	in, store, env, _ := newIntake(t)
	ctx := context.Background()
	jan := civil.Date{Year: 2024, Month: 1, Day: 1}
	for m := 1; m <= 24; m++ {
		if m == 6 {
			continue // M6 has no enrollment on file
		}
		if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf(fmt.Sprintf("M%d", m), jan)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-A", pharmacy, "M1")); err != nil || out.Rejection != nil {
		t.Fatalf("RX-A: %+v %v", out, err)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-C", pharmacy, "M3")); err != nil || out.Rejection != nil {
		t.Fatalf("RX-C: %+v %v", out, err)
	}
	early := rev("RX-B")
	early.MemberId = "M2"
	if out, err := in.SubmitAPI(ctx, bus.KindReversal, early); err != nil || !out.Held {
		t.Fatalf("early reversal: %+v %v", out, err)
	}
	conflicting := claimOf("RX-C", pharmacy, "M3")
	conflicting.TotalCents = 999
	invalid := claimOf("RX-E", pharmacy, "M5")
	invalid.DaysSupply = 0
	before := claimOf("RX-G", pharmacy, "M20") // before M20's enrollment began
	before.DateOfService = civil.Date{Year: 2023, Month: 12, Day: 30}.Proto()
	batch := []intake.Submission{
		fromPharmacy(t, bus.KindClaim, claimOf("RX-A", pharmacy, "M1"), 1001),
		fromPharmacy(t, bus.KindClaim, claimOf("RX-B", pharmacy, "M2"), 1002),
		fromPharmacy(t, bus.KindClaim, conflicting, 1003),
		fromPharmacy(t, bus.KindClaim, claimOf("RX-D", pharmacy, "M4"), 1004),
		fromPharmacy(t, bus.KindClaim, invalid, 1005),
		fromPharmacy(t, bus.KindClaim, claimOf("RX-F", pharmacy, "M6"), 1006),
		fromPharmacy(t, bus.KindEnrollment, enrollmentOf("M7", jan), 1007),
		fromPharmacy(t, bus.KindClaim, before, 1008),
	}
	// A Redis that forgot the reservation's script (restarted, flushed): the
	// reservations are sent again once it is loaded.
	if err := env.Redis.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	outs, errs := in.SubmitBatch(ctx, batch)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	if !outs[0].Duplicate {
		t.Errorf("RX-A again: %+v, want a duplicate", outs[0])
	}
	if outs[1].Rejection != nil || outs[1].Duplicate {
		t.Errorf("RX-B: %+v, want accepted", outs[1])
	}
	if got := reasons(outs[2]); got != "claim_id:DUPLICATE_CONFLICT" {
		t.Errorf("RX-C with other content: rejected for %q, want claim_id:DUPLICATE_CONFLICT", got)
	}
	if outs[3].Rejection != nil || outs[3].EventID != intake.ClaimEventID(pharmacy, "RX-D") {
		t.Errorf("RX-D: %+v, want accepted", outs[3])
	}
	if outs[4].Rejection == nil {
		t.Errorf("RX-E without days supply: %+v, want a rejection", outs[4])
	}
	if !outs[5].AwaitingEnrollment {
		t.Errorf("RX-F of a member without enrollment: %+v, want it to wait", outs[5])
	}
	if got := reasons(outs[6]); got != "kind:NOT_ALLOWED_FOR_SENDER" {
		t.Errorf("an enrollment from a pharmacy: rejected for %q, want kind:NOT_ALLOWED_FOR_SENDER", got)
	}
	if got := reasons(outs[7]); got != "date_of_service:NOT_ENROLLED" {
		t.Errorf("RX-G before its member's enrollment: rejected for %q, want date_of_service:NOT_ENROLLED", got)
	}
	// Neither the rejected claim nor the waiting one keeps its id: the
	// pharmacy's corrected claims (another date, another member) are accepted.
	corrected := claimOf("RX-F", pharmacy, "M21")
	for _, c := range []*claimsv1.PharmacyClaim{claimOf("RX-G", pharmacy, "M20"), corrected} {
		if out, err := in.SubmitAPI(ctx, bus.KindClaim, c); err != nil || out.Rejection != nil || out.Duplicate {
			t.Errorf("corrected %s: %+v %v, want accepted", c.ClaimId, out, err)
		}
	}
	var subjects []string
	for _, m := range testkit.StreamMessages(t, env.JS, bus.StreamClaims) {
		subjects = append(subjects, m.Subject)
	}
	p2 := bus.Partition("M2", 4)
	want := fmt.Sprint([]string{bus.ClaimPaidSubject(bus.Partition("M1", 4)), bus.ClaimPaidSubject(bus.Partition("M3", 4))})
	if len(subjects) != 7 || fmt.Sprint(subjects[:2]) != want {
		t.Fatalf("claims stream %v: want RX-A, RX-C, then RX-B and RX-D in some order and RX-B's reversal after RX-B, then the corrected RX-G and RX-F", subjects)
	}
	paidB, reversedB := -1, -1
	for i, s := range subjects {
		if s == bus.ClaimPaidSubject(p2) && paidB < 0 {
			paidB = i
		}
		if s == bus.ClaimReversedSubject(p2) {
			reversedB = i
		}
	}
	if paidB < 0 || reversedB < paidB {
		t.Fatalf("claims stream %v: RX-B's reversal must come after RX-B", subjects)
	}
	if held, _ := in.ListHeld(ctx, 10); len(held) != 0 {
		t.Fatalf("still held: %+v", held)
	}
	records, _, err := store.ClaimJourneys(ctx, "RX-D")
	if err != nil || len(records) != 1 || records[0].RawSeq != 1004 || records[0].ClaimSeq == 0 {
		t.Fatalf("journey of RX-D: %+v %v", records, err)
	}

	rt := &roundTrips{}
	env.Redis.AddHook(rt)
	for _, size := range []int{1, 16} {
		var fresh []intake.Submission
		for m := 8; m < 8+size; m++ {
			fresh = append(fresh, fromPharmacy(t, bus.KindClaim, claimOf(fmt.Sprintf("RX-N%d-%d", size, m), pharmacy, fmt.Sprintf("M%d", m)), uint64(2000+100*size+m)))
		}
		rt.take()
		outs, errs := in.SubmitBatch(ctx, fresh)
		for i := range fresh {
			if errs[i] != nil || outs[i].Rejection != nil || outs[i].Duplicate {
				t.Fatalf("new claim %d of %d: %+v %v", i, size, outs[i], errs[i])
			}
		}
		if n := rt.take(); n != 2 {
			t.Errorf("a batch of %d new claims took %d Redis round trips, want 2", size, n)
		}
	}
	if got := len(testkit.StreamMessages(t, env.JS, bus.StreamClaims)); got != 7+17 {
		t.Fatalf("%d claims on the stream, want %d", got, 7+17)
	}
}
