package intake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/internal/adapters"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
	"github.com/emtm/emtm/services/ingestion/internal/validate"
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
	store := adapters.NewStore(env.Redis, 4)
	return intake.New(bus.NewPublisher(env.JS, tel, "ingestion"), store, 4, time.UTC, intake.WithClock(clk.Now)), store, env, clk
}

const pharmacy = "1245319599"

// facts are those of the claims the reversals of rev reverse.
var facts = intake.ClaimFacts{Member: "M1", Contract: "S9925", PBP: "001", Date: civil.Date{Year: 2024, Month: 4, Day: 20}}

func rev(id string) *claimsv1.ClaimReversal {
	return &claimsv1.ClaimReversal{ClaimId: id, MemberId: "M1", ContractId: "S9925", PbpId: "001",
		PharmacyNpi: pharmacy, ReversalDate: &typesv1.Date{Year: 2024, Month: 5, Day: 2}}
}

func TestHeldReversalsAreSweptAndOverdueOnesRejected(t *testing.T) {
	t.Parallel()
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
	if err := store.RecordClaim(ctx, intake.ClaimRef(pharmacy, "RX-RACE"), facts); err != nil {
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
	if len(msgs) != 1 || msgs[0].ClaimId != "RX-RACE" || msgs[0].GetMeta().GetEventId() != "reversal/1245319599/RX-RACE" {
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
	if err := store.RecordClaim(ctx, intake.ClaimRef(pharmacy, "RX-LATE"), facts); err != nil {
		t.Fatal(err)
	}
	out, err := in.Resubmit(ctx, rejs[0])
	if err != nil || out.Rejection != nil || out.Held || out.EventID != "reversal/1245319599/RX-LATE" {
		t.Fatalf("resubmit: %+v %v", out, err)
	}
}

func claimOf(id, npi, member string) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{ClaimId: id, MemberId: member, ContractId: "S9925", PbpId: "001",
		DateOfService: &typesv1.Date{Year: 2024, Month: 4, Day: 20}, RxnormCode: "310534", Ingredients: []string{"glyburide"},
		QuantityMilli: 60000, DaysSupply: 30, PrescriberNpi: "1234567893", PharmacyNpi: npi, TotalCents: 1000}
}

func enrollmentOf(member string, from civil.Date) *enrollmentv1.Enrollment {
	return &enrollmentv1.Enrollment{EnrollmentId: "E-" + member, MemberId: member, ContractId: "S9925", PbpId: "001", StartDate: from.Proto()}
}

func reasons(out intake.Outcome) string {
	var r []string
	for _, v := range out.Rejection.GetViolations() {
		r = append(r, v.Field+":"+v.Reason)
	}
	return strings.Join(r, " ")
}

// TestAClaimIsItsPharmacysAndOnlyAMatchingReversalReversesIt: a claim id is
// unique within its pharmacy only; a reversal must come from the claim's
// pharmacy, name its member and plan, and not predate it.
func TestAClaimIsItsPharmacysAndOnlyAMatchingReversalReversesIt(t *testing.T) {
	t.Parallel()
	in, _, env, _ := newIntake(t)
	ctx := context.Background()
	const other = "1003000126"
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	a, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-7", pharmacy, "M1"))
	if err != nil || a.Rejection != nil || a.EventID != "claim/1245319599/RX-7" {
		t.Fatalf("pharmacy A's claim: %+v %v", a, err)
	}
	// The same claim id from another pharmacy is another claim, not a conflict.
	b, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-7", other, "M1"))
	if err != nil || b.Rejection != nil || b.Duplicate || b.EventID != "claim/1003000126/RX-7" {
		t.Fatalf("pharmacy B's claim with the same id: %+v %v", b, err)
	}
	cases := []struct {
		name   string
		mutate func(*claimsv1.ClaimReversal)
		want   string
	}{
		{"another member", func(r *claimsv1.ClaimReversal) { r.MemberId = "M2" }, "member_id:REVERSAL_MISMATCH"},
		{"another plan", func(r *claimsv1.ClaimReversal) { r.PbpId = "002" }, "contract_id:REVERSAL_MISMATCH"},
		{"dated before the claim", func(r *claimsv1.ClaimReversal) { r.ReversalDate = &typesv1.Date{Year: 2024, Month: 4, Day: 19} }, "reversal_date:REVERSAL_BEFORE_CLAIM"},
	}
	for _, c := range cases {
		r := rev("RX-7")
		c.mutate(r)
		out, err := in.SubmitAPI(ctx, bus.KindReversal, r)
		if err != nil || out.Rejection == nil || reasons(out) != c.want {
			t.Fatalf("a reversal naming %s: %+v %v, want %s", c.name, out, err, c.want)
		}
	}
	// A reversal of pharmacy B's RX-7 by B reverses B's claim only.
	r := rev("RX-7")
	r.PharmacyNpi = other
	out, err := in.SubmitAPI(ctx, bus.KindReversal, r)
	if err != nil || out.Rejection != nil || out.Held || out.EventID != "reversal/1003000126/RX-7" {
		t.Fatalf("B's reversal: %+v %v", out, err)
	}
	// After the mismatches were rejected, a correct reversal of A's claim is accepted.
	out, err = in.SubmitAPI(ctx, bus.KindReversal, rev("RX-7"))
	if err != nil || out.Rejection != nil || out.EventID != "reversal/1245319599/RX-7" {
		t.Fatalf("A's own reversal: %+v %v", out, err)
	}
	revs := testkit.Decode(t, env.JS, bus.StreamClaims, func() *claimsv1.ClaimReversal { return &claimsv1.ClaimReversal{} })
	var ids []string
	for _, m := range revs {
		if strings.HasPrefix(m.GetMeta().GetEventId(), "reversal/") {
			ids = append(ids, m.GetMeta().GetEventId())
		}
	}
	if strings.Join(ids, ",") != "reversal/1003000126/RX-7,reversal/1245319599/RX-7" {
		t.Fatalf("published reversals %v", ids)
	}
}

// TestAHeldReversalThatDoesNotMatchItsClaimIsRejectedWhenTheClaimArrives:
// the checks apply when a reversal came first, and its rejection frees the
// claim for a correct reversal.
func TestAHeldReversalThatDoesNotMatchItsClaimIsRejectedWhenTheClaimArrives(t *testing.T) {
	t.Parallel()
	in, _, env, _ := newIntake(t)
	ctx := context.Background()
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	wrong := rev("RX-8")
	wrong.MemberId = "M2"
	if out, err := in.SubmitAPI(ctx, bus.KindReversal, wrong); err != nil || !out.Held {
		t.Fatalf("early reversal: %+v %v", out, err)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-8", pharmacy, "M1")); err != nil || out.Rejection != nil {
		t.Fatalf("claim: %+v %v", out, err)
	}
	rejs := testkit.Decode(t, env.JS, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	if len(rejs) != 1 || rejs[0].Violations[0].Reason != "REVERSAL_MISMATCH" || rejs[0].Channel != intake.ChannelHeld {
		t.Fatalf("rejections %v, want the held reversal's REVERSAL_MISMATCH", rejs)
	}
	if held, _ := in.ListHeld(ctx, 10); len(held) != 0 {
		t.Fatalf("still held: %+v", held)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindReversal, rev("RX-8")); err != nil || out.Rejection != nil || out.Held {
		t.Fatalf("the correct reversal after the rejected one: %+v %v", out, err)
	}
}

// TestAClaimOfAMemberWithoutEnrollmentWaitsForItOrIsRejectedWhenOverdue.
func TestAClaimOfAMemberWithoutEnrollmentWaitsForItOrIsRejectedWhenOverdue(t *testing.T) {
	t.Parallel()
	in, _, env, clk := newIntake(t)
	ctx := context.Background()
	for _, m := range []string{"M1", "M2", "M3"} {
		out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-"+m, pharmacy, m))
		if err != nil || !out.AwaitingEnrollment || out.Rejection != nil {
			t.Fatalf("%s's claim: %+v %v, want it awaiting enrollment", m, out, err)
		}
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamClaims)); n != 0 {
		t.Fatalf("%d claims published before any enrollment", n)
	}
	// M1's enrollment covers the claim: it is published at once.
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	// M2's starts after the claim's date: the claim is rejected as it would have been.
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M2", civil.Date{Year: 2024, Month: 5, Day: 1})); err != nil {
		t.Fatal(err)
	}
	claims := testkit.Decode(t, env.JS, bus.StreamClaims, func() *claimsv1.PharmacyClaim { return &claimsv1.PharmacyClaim{} })
	if len(claims) != 1 || claims[0].ClaimId != "RX-M1" {
		t.Fatalf("published %v, want RX-M1 only", claims)
	}
	left, _ := in.ListAwaiting(ctx, 10)
	if len(left) != 1 || left[0].Member != "M3" {
		t.Fatalf("still waiting %+v, want M3's claim", left)
	}
	// M3's never comes: after the overdue time the claim is rejected, once.
	if w, r, err := in.SweepAwaiting(ctx, 72*time.Hour); err != nil || w != 1 || r != 0 {
		t.Fatalf("early sweep: %d %d %v", w, r, err)
	}
	clk.Add(73 * time.Hour)
	for i := 0; i < 2; i++ {
		if _, _, err := in.SweepAwaiting(ctx, 72*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	rejs := testkit.Decode(t, env.JS, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	got := map[string]string{}
	for _, r := range rejs {
		var c claimsv1.PharmacyClaim
		_ = proto.Unmarshal(r.Payload, &c)
		got[c.ClaimId] += r.Violations[0].Reason
	}
	if len(rejs) != 2 || got["RX-M2"] != "NOT_ENROLLED" || got["RX-M3"] != "NOT_ENROLLED" {
		t.Fatalf("rejections %v, want RX-M2 (outside its enrollment) and RX-M3 (none came) once each", got)
	}
	if left, _ := in.ListAwaiting(ctx, 10); len(left) != 0 {
		t.Fatalf("still waiting %+v", left)
	}
}

// TestTheSameRefusedSubmissionIsOneRejection: a re-run import or a retry
// stores no second rejection; a resubmission is its own record.
func TestTheSameRefusedSubmissionIsOneRejection(t *testing.T) {
	t.Parallel()
	in, _, env, _ := newIntake(t)
	ctx := context.Background()
	bad := claimOf("RX-BAD", pharmacy, "M1")
	bad.DaysSupply = 0
	first, err := in.SubmitAPI(ctx, bus.KindClaim, bad)
	if err != nil || first.Rejection == nil {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := in.SubmitAPI(ctx, bus.KindClaim, bad)
	if err != nil || again.Rejection == nil || !again.Duplicate || again.Rejection.RejectionId != first.Rejection.RejectionId {
		t.Fatalf("the same submission again: %+v %v, want the first rejection back", again, err)
	}
	// Sent again after the bus's duplicate window (a restart hours later): a
	// new raw message, the same submission.
	later, err := in.SubmitRaw(ctx, bus.KindClaim, intake.Source{Channel: first.Rejection.Channel, Sender: first.Rejection.Sender,
		RawSubject: first.Rejection.RawSubject, RawSeq: first.RawSeq + 1000, ContentType: first.Rejection.ContentType, Payload: first.Rejection.Payload})
	if err != nil || later.Rejection == nil || !later.Duplicate || later.Rejection.RejectionId != first.Rejection.RejectionId {
		t.Fatalf("the same submission as a new raw message: %+v %v, want the first rejection back", later, err)
	}
	other := claimOf("RX-BAD", pharmacy, "M1")
	other.DaysSupply = 400 // the same claim id, other content: its own rejection
	third, err := in.SubmitAPI(ctx, bus.KindClaim, other)
	if err != nil || third.Rejection == nil || third.Duplicate || third.Rejection.RejectionId == first.Rejection.RejectionId {
		t.Fatalf("other content: %+v %v", third, err)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamRejections)); n != 2 {
		t.Fatalf("%d rejections stored, want 2", n)
	}
	re, err := in.Resubmit(ctx, first.Rejection)
	if err != nil || re.Rejection == nil || re.Rejection.ResubmitsRejectionId != first.Rejection.RejectionId {
		t.Fatalf("resubmission: %+v %v", re, err)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamRejections)); n != 3 {
		t.Fatalf("%d rejections stored after a resubmission, want 3", n)
	}
}

// A pharmacy's retry of a reversal whose claim never came is held again once
// the first copy has been rejected; rejected again for the same reason, it is
// the same rejection, not a second one (the held copies' canonical payloads
// differ in their meta, their content does not).
func TestAReversalRetriedAfterItsRejectionIsOneRejection(t *testing.T) {
	t.Parallel()
	in, _, env, clk := newIntake(t)
	ctx := context.Background()
	payload, err := proto.Marshal(rev("RX-NEVER"))
	if err != nil {
		t.Fatal(err)
	}
	for copy := range 2 {
		// Two copies on the pharmacy's raw subject: two raw sequences.
		out, err := in.SubmitRaw(ctx, bus.KindReversal, intake.Source{Channel: "pharmacy", Sender: pharmacy,
			RawSubject: bus.RawPharmacySubject(pharmacy, bus.KindReversal), RawSeq: uint64(100 + copy),
			ContentType: bus.ContentProtobuf, Payload: payload})
		if err != nil || !out.Held {
			t.Fatalf("copy %d: %+v %v", copy, out, err)
		}
		clk.Add(4 * 24 * time.Hour)
		if held, rejected, err := in.SweepHeld(ctx, 72*time.Hour); err != nil || held != 0 || rejected != 1 {
			t.Fatalf("copy %d: held %d, rejected %d (%v); want 0 and 1", copy, held, rejected, err)
		}
	}
	rejs := testkit.Decode(t, env.JS, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
	if len(rejs) != 1 || rejs[0].Violations[0].Reason != "UNKNOWN_CLAIM" {
		t.Fatalf("%d rejections %v, want one UNKNOWN_CLAIM", len(rejs), rejs)
	}
	// A corrected reversal (another date) is another submission: its own rejection.
	r := rev("RX-NEVER")
	r.ReversalDate.Day = 3
	if out, err := in.SubmitAPI(ctx, bus.KindReversal, r); err != nil || !out.Held {
		t.Fatalf("corrected: %+v %v", out, err)
	}
	clk.Add(4 * 24 * time.Hour)
	if _, rejected, err := in.SweepHeld(ctx, 72*time.Hour); err != nil || rejected != 1 {
		t.Fatalf("corrected: rejected %d (%v)", rejected, err)
	}
	if n := len(testkit.StreamMessages(t, env.JS, bus.StreamRejections)); n != 2 {
		t.Fatalf("%d rejections, want 2", n)
	}
}

// An encounter naming its task by id is the same submission whether or not it
// also states the kind the id names (ingestion derives it), so a pharmacy's
// retry, or a re-run of an import made before task_kind existed, is a
// duplicate, never a conflict; a kind that disagrees is refused.
func TestAnEncounterIsTheSameWithOrWithoutTheTaskKindItsTaskIdNames(t *testing.T) {
	t.Parallel()
	in, store, _, _ := newIntake(t)
	ctx := context.Background()
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	enc := func(kind string) *encountersv1.MtmEncounter {
		return &encountersv1.MtmEncounter{EncounterId: "ENC-9", MemberId: "M1", ContractId: "S9925", PbpId: "001",
			ServiceDate: &typesv1.Date{Year: 2024, Month: 4, Day: 2}, ServiceCodes: []string{"314530002"},
			PharmacistNpi: "1234567893", PharmacyNpi: pharmacy, DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE,
			Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED, TaskId: "task/M1/CMR/2024", TaskKind: kind}
	}
	// The version before task_kind accepted ENC-9: its duplicate check holds
	// the hash of the canonical encounter, which had no task_kind.
	old, _ := validate.Encounter(enc(""), validate.Rules{Today: civil.Date{Year: 2024, Month: 6, Day: 1}})
	old.TaskKind = ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if _, err := store.Reserve(ctx, "encounter:ENC-9", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	if err := store.Complete(ctx, "encounter:ENC-9", hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	first, err := in.SubmitAPI(ctx, bus.KindEncounter, enc(""))
	if err != nil || first.Rejection != nil || !first.Duplicate {
		t.Fatalf("sent again after the upgrade: %+v %v; want a duplicate", first, err)
	}
	again, err := in.SubmitAPI(ctx, bus.KindEncounter, enc("CMR"))
	if err != nil || again.Rejection != nil || !again.Duplicate {
		t.Fatalf("the same with its kind stated: %+v %v; want a duplicate", again, err)
	}
	bad, err := in.SubmitAPI(ctx, bus.KindEncounter, enc("TMR"))
	if err != nil || bad.Rejection == nil || reasons(bad) != "task_kind:TASK_KIND_MISMATCH" {
		t.Fatalf("a disagreeing kind: %+v %v", bad, err)
	}
}

// TestAClaimIdLeadsToEveryPharmacysClaimAndItsRejections: what the console's
// claim journey starts from. Each pharmacy's claim keeps its first record
// (the trace it was accepted in and its sequences); a duplicate does not
// overwrite it, and a refused submission with the claim id is listed too.
func TestAClaimIdLeadsToEveryPharmacysClaimAndItsRejections(t *testing.T) {
	t.Parallel()
	in, _, env, _ := newIntake(t)
	ctx := context.Background()
	const other = "1003000126"
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	tel, _ := otelx.Setup(ctx, "pharmacy", nil)
	tctx, span := tel.Tracer("test").Start(ctx, "submit")
	trace := span.SpanContext().TraceID().String()
	a, err := in.SubmitAPI(tctx, bus.KindClaim, claimOf("RX-9", pharmacy, "M1"))
	span.End()
	if err != nil || a.Rejection != nil {
		t.Fatalf("%+v %v", a, err)
	}
	if again, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-9", pharmacy, "M1")); err != nil || !again.Duplicate {
		t.Fatalf("the duplicate: %+v %v", again, err)
	}
	if _, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-9", other, "M1")); err != nil {
		t.Fatal(err)
	}
	bad := claimOf("RX-9", pharmacy, "M1")
	bad.DaysSupply = 0
	refused, err := in.SubmitAPI(ctx, bus.KindClaim, bad)
	if err != nil || refused.Rejection == nil {
		t.Fatalf("the bad claim: %+v %v", refused, err)
	}
	recs, rejections, err := in.ClaimJourneys(ctx, "RX-9")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].PharmacyNPI != other || recs[1].PharmacyNPI != pharmacy {
		t.Fatalf("records %+v", recs)
	}
	mine := recs[1]
	if mine.TraceID != trace || mine.EventID != "claim/1245319599/RX-9" || mine.RawSeq != a.RawSeq || mine.ClaimSeq == 0 ||
		mine.Facts != (intake.ClaimFacts{Member: "M1", Contract: "S9925", PBP: "001", Date: civil.Date{Year: 2024, Month: 4, Day: 20}}) {
		t.Fatalf("the first record %+v (trace %s, raw %d)", mine, trace, a.RawSeq)
	}
	claims := testkit.StreamMessages(t, env.JS, bus.StreamClaims)
	found := false
	for _, m := range claims {
		if m.Header.Get("Nats-Msg-Id") == mine.EventID && m.Sequence == mine.ClaimSeq {
			found = true
		}
	}
	if !found {
		t.Errorf("EMTM_CLAIMS has no message %s at sequence %d", mine.EventID, mine.ClaimSeq)
	}
	if len(rejections) != 1 || rejections[0] != refused.Rejection.RejectionId {
		t.Fatalf("rejections %v, want %s", rejections, refused.Rejection.RejectionId)
	}
	if none, rej, err := in.ClaimJourneys(ctx, "RX-404"); err != nil || len(none) != 0 || len(rej) != 0 {
		t.Fatalf("an unknown claim id: %v %v %v", none, rej, err)
	}
}

// roundTrips counts the Redis round trips made through a client: a command,
// or a pipeline or transaction, is one (a new connection's greeting is not counted).
type roundTrips struct {
	mu sync.Mutex
	n  int
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		if name := cmd.Name(); name != "hello" && name != "client" { // a new connection's greeting
			r.n++
		}
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		r.n++
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}
func (r *roundTrips) take() int { r.mu.Lock(); defer r.mu.Unlock(); n := r.n; r.n = 0; return n }

// A new claim costs two Redis round trips (the member's enrollment read with
// the claim's reservation, and one transaction that records its journey,
// completes it, records its facts and reads a held reversal), and a reversal
// that came before it is published right after it.
func TestANewClaimTakesTwoRedisRoundTripsAndReleasesItsEarlyReversal(t *testing.T) {
	t.Parallel()
	in, store, env, _ := newIntake(t)
	ctx := context.Background()
	rt := &roundTrips{}
	env.Redis.AddHook(rt)
	if _, err := in.SubmitAPI(ctx, bus.KindEnrollment, enrollmentOf("M1", civil.Date{Year: 2024, Month: 1, Day: 1})); err != nil {
		t.Fatal(err)
	}
	// The first claim loads the reservation's script (EVALSHA refused, then EVAL).
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-0", pharmacy, "M1")); err != nil || out.Rejection != nil {
		t.Fatalf("claim: %+v %v", out, err)
	}
	rt.take()
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-1", pharmacy, "M1")); err != nil || out.Rejection != nil || out.Duplicate {
		t.Fatalf("claim: %+v %v", out, err)
	}
	if n := rt.take(); n != 2 {
		t.Errorf("a new claim took %d Redis round trips, want 2", n)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindReversal, rev("RX-2")); err != nil || !out.Held {
		t.Fatalf("early reversal: %+v %v", out, err)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-2", pharmacy, "M1")); err != nil || out.Rejection != nil {
		t.Fatalf("the reversed claim: %+v %v", out, err)
	}
	var subjects []string
	for _, m := range testkit.StreamMessages(t, env.JS, bus.StreamClaims) {
		subjects = append(subjects, m.Subject)
	}
	p := bus.Partition("M1", 4)
	if len(subjects) != 4 || subjects[2] != bus.ClaimPaidSubject(p) || subjects[3] != bus.ClaimReversedSubject(p) {
		t.Fatalf("claims stream %v: want RX-0 and RX-1 paid, RX-2 paid, then its reversal", subjects)
	}
	if held, _ := in.ListHeld(ctx, 10); len(held) != 0 {
		t.Fatalf("still held: %+v", held)
	}
	records, _, err := store.ClaimJourneys(ctx, "RX-2")
	if err != nil || len(records) != 1 || records[0].ClaimSeq != 3 {
		t.Fatalf("journey of RX-2: %+v %v", records, err)
	}
	if f, known, err := store.Claim(ctx, intake.ClaimRef(pharmacy, "RX-2")); err != nil || !known || f != facts {
		t.Fatalf("facts of RX-2: %+v %v %v", f, known, err)
	}
	if out, err := in.SubmitAPI(ctx, bus.KindClaim, claimOf("RX-2", pharmacy, "M1")); err != nil || !out.Duplicate {
		t.Fatalf("RX-2 again: %+v %v", out, err)
	}
}
