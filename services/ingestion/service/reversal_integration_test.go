package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/service"
)

func client(t *testing.T, addr string) ingestionv1.IngestionServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return ingestionv1.NewIngestionServiceClient(cc)
}

func reversal(claimID string) *claimsv1.ClaimReversal {
	return &claimsv1.ClaimReversal{ClaimId: claimID, MemberId: "M1", ContractId: "S9925", PbpId: "001",
		PharmacyNpi: pharmacyNPI, ReversalDate: &typesv1.Date{Year: 2024, Month: 3, Day: 11}}
}

// subjects lists the subjects of the messages on EMTM_CLAIMS, in order.
func subjects(t *testing.T, env *testkit.Env) []string {
	var out []string
	for _, m := range testkit.StreamMessages(t, env.JS, bus.StreamClaims) {
		_, kind, _ := strings.Cut(strings.TrimPrefix(m.Subject, "emtm.claims."), ".")
		out = append(out, kind)
	}
	return out
}

func TestAReversalBeforeItsClaimIsHeldUntilTheClaimArrives(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	ing := client(t, env.RunService(t, service.Definition))
	ctx := context.Background()
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{EnrollmentId: "E1",
		MemberId: "M1", ContractId: "S9925", PbpId: "001", StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
		t.Fatal(err)
	}

	r, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: reversal("RX-9")})
	if err != nil || !r.Accepted.Held || r.Accepted.EventId != "reversal/1245319599/RX-9" {
		t.Fatalf("early reversal: %v %v", r, err)
	}
	// The same reversal again is still held, not published.
	if r, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: reversal("RX-9")}); err != nil || !r.Accepted.Held {
		t.Fatalf("repeated early reversal: %v %v", r, err)
	}
	if got := subjects(t, env); len(got) != 0 {
		t.Fatalf("published before its claim: %v", got)
	}
	held, err := ing.ListHeldReversals(ctx, &ingestionv1.ListHeldReversalsRequest{})
	if err != nil || len(held.Reversals) != 1 || held.Reversals[0].ClaimId != "RX-9" || held.Reversals[0].HeldSince == nil {
		t.Fatalf("held: %v %v", held, err)
	}
	if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-9")}); err != nil {
		t.Fatal(err)
	}
	// The claim, then its reversal, in that order on the same partition.
	if got := subjects(t, env); len(got) != 2 || got[0] != "paid" || got[1] != "reversed" {
		t.Fatalf("claims stream %v, want the claim then its reversal", got)
	}
	if held, _ := ing.ListHeldReversals(ctx, &ingestionv1.ListHeldReversalsRequest{}); len(held.Reversals) != 0 {
		t.Fatalf("still held after the claim: %v", held.Reversals)
	}
	// Once released, the reversal is an ordinary duplicate.
	if r, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: reversal("RX-9")}); err != nil || r.Accepted.Held || !r.Accepted.Duplicate {
		t.Fatalf("reversal after release: %v %v", r, err)
	}
	// A reversal of a claim that is known is published at once.
	if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-10")}); err != nil {
		t.Fatal(err)
	}
	if r, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: reversal("RX-10")}); err != nil || r.Accepted.Held {
		t.Fatalf("reversal of a known claim: %v %v", r, err)
	}
	if got := subjects(t, env); len(got) != 4 {
		t.Fatalf("claims stream %v", got)
	}
}

func TestEnrollmentDecidesWhichDatesOfServiceAreAcceptedAndAFixedRejectionResubmits(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	ing := client(t, env.RunService(t, service.Definition))
	ctx := context.Background()

	// Enrollment unknown: the claim waits for it.
	a, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-A")})
	if err != nil || !a.Accepted.AwaitingEnrollment {
		t.Fatalf("a claim before any enrollment: %v %v, want it awaiting enrollment", a, err)
	}
	waiting, err := ing.ListAwaitingEnrollment(ctx, &ingestionv1.ListAwaitingEnrollmentRequest{})
	if err != nil || len(waiting.Submissions) != 1 || waiting.Submissions[0].MemberId != "M1" || waiting.Submissions[0].Kind != "claim" {
		t.Fatalf("awaiting enrollment: %v %v", waiting, err)
	}
	enr := &enrollmentv1.Enrollment{EnrollmentId: "E1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		StartDate: &typesv1.Date{Year: 2024, Month: 4, Day: 1}}
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: enr}); err != nil {
		t.Fatal(err)
	}
	// Enrollment known from April: the waiting March claim and a new one are rejected.
	_, err = ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-B")})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "outside the member's enrollment") {
		t.Fatalf("claim outside enrollment: %v", err)
	}
	list, err := ing.ListRejections(ctx, &ingestionv1.ListRejectionsRequest{})
	if err != nil || len(list.Rejections) != 2 || list.Rejections[0].Violations[0].Reason != "NOT_ENROLLED" || list.Rejections[1].Violations[0].Reason != "NOT_ENROLLED" {
		t.Fatalf("rejections: %v %v", list, err)
	}
	if waiting, _ := ing.ListAwaitingEnrollment(ctx, &ingestionv1.ListAwaitingEnrollmentRequest{}); len(waiting.Submissions) != 0 {
		t.Fatalf("still awaiting after the enrollment came: %v", waiting)
	}
	rejID := list.Rejections[0].RejectionId
	// Resubmitting before the fix: rejected again, naming the original.
	again, err := ing.ResubmitRejection(ctx, &ingestionv1.ResubmitRejectionRequest{RejectionId: rejID})
	if err != nil || again.Rejection == nil || again.Rejection.ResubmitsRejectionId != rejID || again.Rejection.Channel != "resubmit" {
		t.Fatalf("resubmission before the fix: %v %v", again, err)
	}
	// The fix upstream: a retroactive enrollment change back to March.
	enr.StartDate = &typesv1.Date{Year: 2024, Month: 3, Day: 1}
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: enr}); err != nil {
		t.Fatal(err)
	}
	fixed, err := ing.ResubmitRejection(ctx, &ingestionv1.ResubmitRejectionRequest{RejectionId: rejID})
	if err != nil || fixed.Accepted == nil || fixed.Accepted.EventId != "claim/1245319599/RX-B" {
		t.Fatalf("resubmission after the fix: %v %v", fixed, err)
	}
	list, _ = ing.ListRejections(ctx, &ingestionv1.ListRejectionsRequest{Limit: 10})
	var st0 *ingestionv1.RejectionStatus
	for _, s := range list.Statuses {
		if s.RejectionId == rejID {
			st0 = s
		}
	}
	if st0 == nil || st0.ResolvedEventId != "claim/1245319599/RX-B" || st0.Resubmissions != 2 || st0.LastRejectionId == "" {
		t.Fatalf("status of %s: %+v", rejID, st0)
	}
	if _, err := ing.ResubmitRejection(ctx, &ingestionv1.ResubmitRejectionRequest{RejectionId: "rej-999999"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown rejection: %v", err)
	}
	ctxT, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctxT, env.JS, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := subjects(t, env); len(got) != 1 {
		t.Fatalf("claims published %v, want RX-B only (RX-A stays rejected)", got)
	}
}
