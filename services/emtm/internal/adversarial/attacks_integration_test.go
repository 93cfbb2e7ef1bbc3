package adversarial

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"

	"github.com/emtm/emtm/libs/bus"
)

func date(y, m, d int) *typesv1.Date {
	return &typesv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

func claim(id, member, npi string) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{ClaimId: id, MemberId: member, ContractId: "S9925", PbpId: "001", DateOfService: date(2024, 1, 15),
		RxnormCode: "310534", Ingredients: []string{"glyburide"}, DrugDescription: "glyBURIDE 5 MG Oral Tablet",
		QuantityMilli: 60000, DaysSupply: 30, PrescriberNpi: prescriber, PharmacyNpi: npi,
		IngredientCostCents: 59000, DispensingFeeCents: 1000, TotalCents: 60000, BirthDate: date(1950, 6, 1)}
}

func wantCode(t *testing.T, what string, err error, code codes.Code, text string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), text) {
		t.Errorf("%s: %v, want %s mentioning %q", what, err, code, text)
	}
}

// wantRejected checks a stored rejection's INVALID_ARGUMENT with reason among its field violations.
func wantRejected(t *testing.T, what string, err error, reason string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Errorf("%s: %v, want INVALID_ARGUMENT with %s", what, err, reason)
		return
	}
	var got []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				got = append(got, v.Field+":"+v.Reason)
				if v.Reason == reason {
					return
				}
			}
		}
	}
	t.Errorf("%s: violations %v, want %s", what, got, reason)
}

// TestEveryAttackOfIssue12IsRefusedAndChangesNothing replays A1-A12.
func TestEveryAttackOfIssue12IsRefusedAndChangesNothing(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	ing := func(c string) ingestionv1.IngestionServiceClient {
		return ingestionv1.NewIngestionServiceClient(s.conn(c, "ingestion"))
	}
	risk := func(c string) riskv1.RiskScoringServiceClient {
		return riskv1.NewRiskScoringServiceClient(s.conn(c, "risk-scoring"))
	}
	pay := func(c string) ledgerv1.PaymentReconciliationServiceClient {
		return ledgerv1.NewPaymentReconciliationServiceClient(s.conn(c, "payment-reconciliation"))
	}
	outr := func(c string) outreachv1.PrescriberOutreachServiceClient {
		return outreachv1.NewPrescriberOutreachServiceClient(s.conn(c, "prescriber-outreach"))
	}
	sched := func(c string) schedulingv1.InterventionSchedulingServiceClient {
		return schedulingv1.NewInterventionSchedulingServiceClient(s.conn(c, "intervention-scheduling"))
	}

	// The world before the attacks: the sponsor's feed enrolls M-1 and M-2,
	// pharmacy A fills glyburide for M-1 (a Beers drug at 73: a task and an
	// outreach item follow) and a statin for M-2, and an MTM encounter books a fee.
	for _, m := range []string{"M-1", "M-2"} {
		if _, err := ing("feed-s9925").SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
			EnrollmentId: "E-" + m, MemberId: m, ContractId: "S9925", PbpId: "001", StartDate: date(2024, 1, 1), BirthDate: date(1950, 6, 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-1", "M-1", pharmacyA)}); err != nil {
		t.Fatal(err)
	}
	statin := claim("RX-2", "M-2", pharmacyA)
	statin.RxnormCode, statin.Ingredients, statin.DrugDescription = "617312", []string{"atorvastatin"}, "atorvastatin 40 MG Oral Tablet"
	if _, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: statin}); err != nil {
		t.Fatal(err)
	}
	s.idle()
	before := s.state()
	tasks, err := sched("operator").ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: "M-1"})
	if err != nil || len(tasks.Tasks) == 0 || before.Streams[bus.StreamClaims] != 2 || before.Streams[bus.StreamOutreach] == 0 {
		p, perr := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-1"})
		t.Fatalf("the world before the attacks is not what the test expects: %+v; M-1's tasks %v %v; profile %v %v", before, tasks, err, p, perr)
	}

	t.Run("A1: a rebuild cannot empty the live Redis", func(t *testing.T) {
		// The old request's target_redis_url (field 1) still sent, naming the live Redis.
		req := &ledgerv1.RebuildLedgerRequest{Replace: true}
		req.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s.rs.URL()))
		_, err := pay("sponsor-s9925").RebuildLedger(ctx, req)
		wantCode(t, "a sponsor's rebuild", err, codes.PermissionDenied, "not an operator")
		keys := s.rdb.DBSize(ctx).Val()
		if _, err := pay("operator").RebuildLedger(ctx, req); err != nil {
			t.Fatalf("the operator's rebuild: %v", err)
		}
		if after := s.rdb.DBSize(ctx).Val(); after < keys {
			t.Fatalf("the operator's rebuild removed keys: %d -> %d", keys, after)
		}
		// Duplicate detection survived: a changed claim under an old id is still refused.
		changed := claim("RX-1", "M-1", pharmacyA)
		changed.TotalCents = 1
		_, err = ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: changed})
		wantRejected(t, "a changed claim reusing RX-1", err, "DUPLICATE_CONFLICT")
		s.unchanged("A1", before)
	})

	t.Run("A2: no request makes a service dial an address", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dialed := make(chan struct{}, 1)
		go func() {
			if c, err := l.Accept(); err == nil {
				dialed <- struct{}{}
				_ = c.Close()
			}
		}()
		req := &ledgerv1.RebuildLedgerRequest{}
		var unknown []byte
		for _, f := range []protowire.Number{1, 8} {
			unknown = protowire.AppendString(protowire.AppendTag(unknown, f, protowire.BytesType), "redis://"+l.Addr().String()+"/0")
		}
		req.ProtoReflect().SetUnknown(unknown)
		resp, err := pay("operator").RebuildLedger(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-dialed:
			t.Fatal("the rebuild connected to an address named in the request")
		case <-time.After(500 * time.Millisecond):
		}
		if strings.Contains(resp.String(), l.Addr().String()) {
			t.Fatalf("the response mentions the address: %v", resp)
		}
		s.unchanged("A2", before)
	})

	t.Run("A3: another sponsor sees and changes nothing of S9925", func(t *testing.T) {
		other := "sponsor-h9999"
		_, err := pay(other).GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: "S9925", PbpId: "001", Month: &typesv1.YearMonth{Year: 2024, Month: 3}})
		wantCode(t, "another sponsor's statement", err, codes.PermissionDenied, "contract S9925 is not one of [H9999]")
		_, err = pay(other).ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{ContractId: "S9925"})
		wantCode(t, "another sponsor's ledger", err, codes.PermissionDenied, "contract S9925")
		_, err = pay(other).ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{})
		wantCode(t, "every contract's ledger", err, codes.PermissionDenied, "contract_id")
		_, err = risk(other).GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-1"})
		wantCode(t, "another sponsor's member", err, codes.NotFound, "no profile")
		_, err = ing(other).ListRejections(ctx, &ingestionv1.ListRejectionsRequest{})
		wantCode(t, "rejected payloads", err, codes.PermissionDenied, "not an operator")
		_, err = pay(other).SettlePerformance(ctx, &ledgerv1.SettlePerformanceRequest{ContractId: "S9925", PbpId: "001", Year: 2019})
		wantCode(t, "settle", err, codes.PermissionDenied, "not an operator")
		_, err = pay(other).Sweep(ctx, &ledgerv1.SweepRequest{})
		wantCode(t, "payment sweep", err, codes.PermissionDenied, "not an operator")
		_, err = sched(other).Sweep(ctx, &schedulingv1.SweepRequest{})
		wantCode(t, "task sweep", err, codes.PermissionDenied, "not an operator")
		_, err = risk(other).RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{Apply: true})
		wantCode(t, "profile rebuild", err, codes.PermissionDenied, "not an operator")
		items, err := outr("operator").ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
		if err != nil || len(items.Items) == 0 {
			t.Fatalf("S9925's outreach items: %v %v", items, err)
		}
		_, err = outr(other).RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: items.Items[0].ItemId,
			Status: outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED, PharmacyNpi: pharmacyB})
		wantCode(t, "another sponsor answering S9925's item", err, codes.NotFound, "no such item")
		// S9925's own staff cannot direct a fee to a pharmacy either.
		_, err = outr("sponsor-s9925").RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: items.Items[0].ItemId,
			Status: outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED, PharmacyNpi: pharmacyB})
		wantCode(t, "a sponsor naming the pharmacy that earns a fee", err, codes.PermissionDenied, "pharmacy_npi")
		own, err := outr("sponsor-s9925").ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
		if err != nil || len(own.Items) != len(items.Items) {
			t.Fatalf("S9925's own items: %v %v", own, err)
		}
		theirs, err := outr(other).ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
		if err != nil || len(theirs.Items) != 0 {
			t.Fatalf("H9999 sees %v (%v)", theirs, err)
		}
		s.unchanged("A3", before)
	})

	t.Run("A4: a pharmacy cannot reverse or take another pharmacy's claim", func(t *testing.T) {
		rev := &claimsv1.ClaimReversal{ClaimId: "RX-1", MemberId: "M-1", ContractId: "S9925", PbpId: "001", PharmacyNpi: pharmacyA, ReversalDate: date(2024, 3, 20)}
		_, err := ing("pharmacy-b").SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev})
		wantRejected(t, "B reversing A's claim in A's name", err, "SENDER_MISMATCH")
		// In its own name, B's "RX-1" is B's claim, which does not exist: held, then UNKNOWN_CLAIM.
		rev.PharmacyNpi = pharmacyB
		r, err := ing("pharmacy-b").SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev})
		if err != nil || !r.Accepted.Held {
			t.Fatalf("B reversing its own RX-1: %v %v, want it held for B's claim", r, err)
		}
		// On the bus, B may not publish on A's subject.
		js, errs := s.pharmacyJS(pharmacyB)
		data, _ := proto.Marshal(rev)
		denyCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := js.Publish(denyCtx, bus.RawPharmacySubject(pharmacyA, bus.KindReversal), data); err == nil {
			t.Fatal("pharmacy B published on pharmacy A's subject")
		}
		_ = errs
		time.Sleep(3 * time.Second) // the held reversal becomes UNKNOWN_CLAIM (reversal-overdue 2s)
		p, err := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-1"})
		if err != nil || p.Profile.ActiveClaims != 1 || p.Profile.ReversedClaims != 0 {
			t.Fatalf("M-1's profile after B's attempts: %v %v, want A's RX-1 active", p.GetProfile(), err)
		}
		s.unchanged("A4", before)
	})

	t.Run("A5: a pharmacy sends no enrollment and no Parts A/B costs", func(t *testing.T) {
		_, err := ing("pharmacy-a").SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
			EnrollmentId: "E-X", MemberId: "M-X", ContractId: "S9925", PbpId: "001", StartDate: date(2017, 1, 1)}})
		wantCode(t, "a pharmacy's enrollment over gRPC", err, codes.PermissionDenied, "names no feed")
		ab := &medicalv1.PartsAbSummary{SummaryId: "AB-X", MemberId: "M-1", ContractId: "S9925", PbpId: "001",
			ServiceMonth: &typesv1.YearMonth{Year: 2019, Month: 5}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, CostCents: 500_000_000}
		_, err = ing("pharmacy-a").SubmitPartsAbSummary(ctx, &ingestionv1.SubmitPartsAbSummaryRequest{Summary: ab})
		wantCode(t, "a pharmacy's Parts A/B summary over gRPC", err, codes.PermissionDenied, "names no feed")
		// On the bus: the feed's subjects are not a pharmacy's; its own subject takes claims only.
		js, _ := s.pharmacyJS(pharmacyA)
		data, _ := proto.Marshal(ab)
		denyCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := js.Publish(denyCtx, bus.RawFeedSubject("S9925", bus.KindMedical), data); err == nil {
			t.Fatal("a pharmacy published on the feed's subject")
		}
		if _, err := js.Publish(ctx, bus.RawPharmacySubject(pharmacyA, bus.KindMedical), data); err != nil {
			t.Fatalf("publish on its own subject: %v", err)
		}
		s.unchanged("A5", before)
	})

	t.Run("A6: a reversal naming another member reverses nothing", func(t *testing.T) {
		rev := &claimsv1.ClaimReversal{ClaimId: "RX-1", MemberId: "M-2", ContractId: "S9925", PbpId: "001", PharmacyNpi: pharmacyA, ReversalDate: date(2024, 3, 20)}
		_, err := ing("pharmacy-a").SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev})
		wantRejected(t, "a reversal of M-1's claim naming M-2", err, "REVERSAL_MISMATCH")
		s.unchanged("A6", before)
	})

	t.Run("A7: amounts of 2^63-1 cents are refused at ingestion", func(t *testing.T) {
		c := claim("RX-MAX", "M-1", pharmacyA)
		c.IngredientCostCents, c.TotalCents = math.MaxInt64, math.MaxInt64
		_, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: c})
		wantRejected(t, "a claim of 2^63-1 cents", err, "MONEY_RANGE")
		ab := &medicalv1.PartsAbSummary{SummaryId: "AB-MAX", MemberId: "M-1", ContractId: "S9925", PbpId: "001",
			ServiceMonth: &typesv1.YearMonth{Year: 2024, Month: 2}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, CostCents: math.MaxInt64}
		_, err = ing("feed-s9925").SubmitPartsAbSummary(ctx, &ingestionv1.SubmitPartsAbSummaryRequest{Summary: ab})
		wantRejected(t, "a Parts A/B summary of 2^63-1 cents", err, "MONEY_RANGE")
		if r, err := pay("operator").RebuildLedger(ctx, &ledgerv1.RebuildLedgerRequest{}); err != nil || !r.Equal {
			t.Fatalf("ledger rebuild after the attempts: %v %v", r, err)
		}
		s.unchanged("A7", before)
	})

	t.Run("A8: oversized, made-up and terminal-escaping ingredients", func(t *testing.T) {
		long := claim("RX-LONG", "M-1", pharmacyA)
		long.Ingredients = []string{strings.Repeat("x", 60000)}
		_, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: long})
		wantRejected(t, "a 60,000-character ingredient", err, "TOO_LONG")
		many := claim("RX-MANY", "M-1", pharmacyA)
		many.Ingredients = make([]string, 3000)
		for i := range many.Ingredients {
			many.Ingredients[i] = "madeup" + strconv.Itoa(i)
		}
		_, err = ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: many})
		wantRejected(t, "3,000 ingredients", err, "TOO_MANY")
		esc := claim("RX-ESC", "M-1", pharmacyA)
		esc.Ingredients = []string{"glyburide\x1b[2J\nPAID"}
		_, err = ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: esc})
		wantRejected(t, "an ingredient with an escape and a newline", err, "CONTROL_CHARACTER")
		s.unchanged("A8 (refused)", before)
		// A made-up drug on a real claim is kept as unknown, never counted: no task, no tier change.
		mk := claim("RX-MADEUP", "M-2", pharmacyA)
		mk.RxnormCode, mk.DrugDescription, mk.Ingredients = "", "Zorblaxin 10 MG", []string{"zorblaxin", "quuxamine"}
		mk.Ndc11 = "00002322730"
		tasks0, _ := sched("operator").ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: "M-2"})
		p0, _ := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-2"})
		if _, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: mk}); err != nil {
			t.Fatal(err)
		}
		s.idle()
		p, err := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-2"})
		if err != nil || strings.Join(p.Profile.UnknownDrugs, ",") != "quuxamine,zorblaxin" || len(p.Profile.Ingredients) != len(p0.Profile.Ingredients) ||
			p.Profile.LatestAssessment.GetTier() != p0.Profile.LatestAssessment.GetTier() {
			t.Fatalf("M-2 after made-up drugs: %v %v (before: %v)", p.GetProfile(), err, p0.GetProfile())
		}
		tasks, _ := sched("operator").ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: "M-2"})
		if len(tasks.GetTasks()) != len(tasks0.GetTasks()) {
			t.Fatalf("made-up drugs created tasks: %v -> %v", tasks0, tasks)
		}
		before = s.state() // the accepted claim is the new normal
	})

	t.Run("A9: unknown plans and members without enrollment", func(t *testing.T) {
		c := claim("RX-H", "M-1", pharmacyA)
		c.ContractId = "H9999"
		_, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: c})
		wantRejected(t, "a claim under H9999", err, "UNKNOWN_PLAN")
		s.unchanged("A9 (unknown plan)", before)
		r, err := ing("pharmacy-a").SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-NOENR", "M-9", pharmacyA)})
		if err != nil || !r.Accepted.AwaitingEnrollment {
			t.Fatalf("a claim for a member without enrollment: %v %v, want it awaiting", r, err)
		}
		s.idle()
		if got := s.state().Streams[bus.StreamClaims]; got != before.Streams[bus.StreamClaims] {
			t.Fatalf("the unenrolled member's claim was published (%d claims)", got)
		}
		w, err := ing("operator").ListAwaitingEnrollment(ctx, &ingestionv1.ListAwaitingEnrollmentRequest{})
		if err != nil || len(w.Submissions) != 1 || w.Submissions[0].MemberId != "M-9" {
			t.Fatalf("awaiting: %v %v", w, err)
		}
		before = s.state() // the waiting claim is the new normal
	})

	t.Run("A11: the same refused submission sent again is one rejection", func(t *testing.T) {
		js, _ := s.pharmacyJS(pharmacyA)
		bad := claim("RX-BAD", "M-1", pharmacyA)
		bad.DaysSupply = 0
		data, _ := proto.Marshal(bad)
		count := func() int {
			l, err := ing("operator").ListRejections(ctx, &ingestionv1.ListRejectionsRequest{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Rejections)
		}
		n0 := count()
		for i := 0; i < 3; i++ { // three raw messages (no message id: none is deduplicated by the bus)
			if _, err := js.Publish(ctx, bus.RawPharmacySubject(pharmacyA, bus.KindClaim), data); err != nil {
				t.Fatal(err)
			}
		}
		s.idle()
		if n := count(); n != n0+1 {
			t.Fatalf("%d rejections after three identical bad submissions, want %d", n, n0+1)
		}
	})

	t.Run("A12: a reversal dated before its claim", func(t *testing.T) {
		rev := &claimsv1.ClaimReversal{ClaimId: "RX-1", MemberId: "M-1", ContractId: "S9925", PbpId: "001", PharmacyNpi: pharmacyA, ReversalDate: date(2006, 1, 5)}
		_, err := ing("pharmacy-a").SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev})
		wantRejected(t, "a 2006 reversal of a 2024 claim", err, "REVERSAL_BEFORE_CLAIM")
		s.unchanged("A12", before)
	})

	// Every privileged call above, allowed or refused, is on the audit stream.
	recs := 0
	for _, m := range s.adminMessages(bus.StreamAudit) {
		if bytes.Contains(m, []byte("RebuildLedger")) {
			recs++
		}
	}
	if recs < 5 { // the sponsor's refusal and two operator rebuilds (requested, finished), and A7's
		t.Errorf("%d audit records of RebuildLedger", recs)
	}
}

func (s *system) adminMessages(stream string) [][]byte {
	s.t.Helper()
	ctx := context.Background()
	cons, err := s.admin.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		s.t.Fatal(err)
	}
	var out [][]byte
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			s.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m.Data())
			n++
		}
		if n == 0 {
			return out
		}
	}
}

// TestA10KillingEmtmStopsItsRedisAndARestartReusesNothingStale: kill -9 of
// `emtm run` takes its redis-server down; the next start runs one.
func TestA10KillingEmtmStopsItsRedisAndARestartReusesNothingStale(t *testing.T) {
	bin := binaries(t)
	dir := t.TempDir()
	run := func() (*exec.Cmd, *bytes.Buffer) {
		var out bytes.Buffer
		cmd := exec.Command(filepath.Join(bin, "emtm"), "run", "--data-dir", dir, "--no-sample", "--fixed-ports=false")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	redisPid := func(not int) int {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(filepath.Join(dir, "redis", "redis-server.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != not && syscall.Kill(pid, 0) == nil {
					return pid
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		return 0
	}
	first, out := run()
	pid := redisPid(0)
	if pid == 0 {
		_ = first.Process.Kill()
		t.Fatalf("emtm run started no redis-server within 30s:\n%s", out.String())
	}
	// A second emtm on the same data directory is refused.
	second := exec.Command(filepath.Join(bin, "emtm"), "run", "--data-dir", dir, "--no-sample", "--fixed-ports=false")
	b, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "in use by another emtm") {
		_ = first.Process.Kill()
		t.Fatalf("a second emtm on the same data directory: %v\n%s", err, b)
	}
	_ = first.Process.Kill() // kill -9
	_ = first.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server (pid %d) outlived emtm", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	again, out2 := run()
	defer func() { _ = again.Process.Signal(os.Interrupt); _ = again.Wait() }()
	if p := redisPid(pid); p == 0 {
		t.Fatalf("the restart runs redis-server %d (first was %d):\n%s", p, pid, out2.String())
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}
