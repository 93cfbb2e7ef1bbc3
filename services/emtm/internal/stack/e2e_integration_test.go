package stack

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
)

const (
	prescriber = "1234567893"
	pharmacy   = "1245319599"
)

type env struct {
	st    *Stack
	js    jetstream.JetStream
	spans *tracetest.SpanRecorder
	tel   *otelx.Telemetry
	conns map[string]*grpc.ClientConn
}

// startEnv starts the stack with intervention-scheduling on the event clock:
// the tests' claims are dated 2024, and by the wall clock the program would
// schedule (and expire) every quarter since, a number that grows with the date.
func startEnv(t *testing.T) *env {
	t.Helper()
	return startEnvWith(t, map[string][]string{"intervention-scheduling": {"-clock", "events"}})
}

// startEnvWith starts the stack with extra flags by service name.
func startEnvWith(t *testing.T, serviceArgs map[string][]string) *env {
	t.Helper()
	redisURL, _ := testkit.StartRedis(t)
	rec := tracetest.NewSpanRecorder()
	ctx := context.Background()
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, ServiceArgs: serviceArgs,
		Log: io.Discard, Telemetry: []otelx.Option{otelx.WithSpanProcessor(rec)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	tel, err := otelx.Setup(ctx, "e2e-client", nil, otelx.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, js: js, spans: rec, tel: tel, conns: map[string]*grpc.ClientConn{}}
	for name, addr := range st.Addrs {
		cc, err := grpcx.Dial(addr, tel)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		e.conns[name] = cc
	}
	// The members of testClaim and testEncounter are enrolled.
	enroll(t, ingestionv1.NewIngestionServiceClient(e.conns["ingestion"]), "S9925", "M-0001", "M-0002")
	e.idle(t)
	return e
}

// enroll sends the members' enrollment in contract's plan 001 from 2024-01-01
// (after the model's last prospective month: it books no payment): a claim or
// encounter of a member with no enrollment on file waits for it.
func enroll(t *testing.T, ing ingestionv1.IngestionServiceClient, contract string, members ...string) {
	t.Helper()
	for _, m := range members {
		if _, err := ing.SubmitEnrollment(context.Background(), &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
			EnrollmentId: "E-" + m, MemberId: m, ContractId: contract, PbpId: "001", StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
			t.Fatalf("enrollment of %s: %v", m, err)
		}
	}
}

// enrollVia enrolls members through ingestion at addr (plaintext loopback).
func enrollVia(t *testing.T, addr, contract string, members ...string) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	enroll(t, ingestionv1.NewIngestionServiceClient(cc), contract, members...)
}

func (e *env) idle(t *testing.T) {
	t.Helper()
	// A bound, not a speed: make test runs the fault and scale tests' dozens
	// of processes beside this package on the same cores.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, e.js, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func testClaim() *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: "RX-1001", MemberId: "M-0001", Mbi: "1EG4TE5MK73", ContractId: "S9925", PbpId: "001",
		DateOfService: &typesv1.Date{Year: 2024, Month: 1, Day: 15}, RxnormCode: "310534",
		Ingredients: []string{"glyburide"}, DrugDescription: "glyBURIDE 5 MG Oral Tablet",
		QuantityMilli: 60000, DaysSupply: 30, PrescriberNpi: prescriber, PharmacyNpi: pharmacy,
		IngredientCostCents: 59000, DispensingFeeCents: 1000, TotalCents: 60000,
		BirthDate: &typesv1.Date{Year: 1950, Month: 6, Day: 1},
	}
}

func testEncounter() *encountersv1.MtmEncounter {
	return &encountersv1.MtmEncounter{
		EncounterId: "ENC-1", MemberId: "M-0001", ContractId: "S9925", PbpId: "001",
		ServiceDate: &typesv1.Date{Year: 2024, Month: 2, Day: 1}, ServiceCodes: []string{"430193006"},
		PharmacistNpi: prescriber, PharmacyNpi: pharmacy, Minutes: 30,
		DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
	}
}

// counts is what must not change when a claim or encounter is delivered again.
type counts struct {
	claims, assessments, tasks, outreach, ledgerEntries, ledgerCents, activeClaims int64
}

func (e *env) counts(t *testing.T) counts {
	t.Helper()
	ctx := context.Background()
	var c counts
	c.claims = int64(len(testkit.Decode(t, e.js, bus.StreamClaims, func() *claimsv1.PharmacyClaim { return &claimsv1.PharmacyClaim{} })))
	c.assessments = int64(len(testkit.Decode(t, e.js, bus.StreamAssessments, func() *riskv1.RiskAssessment { return &riskv1.RiskAssessment{} })))
	tc, err := schedulingv1.NewInterventionSchedulingServiceClient(e.conns["intervention-scheduling"]).GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c.tasks = tc.Scheduled
	oc, err := outreachv1.NewPrescriberOutreachServiceClient(e.conns["prescriber-outreach"]).GetOutreachCounts(ctx, &outreachv1.GetOutreachCountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c.outreach = oc.Items
	lt, err := ledgerv1.NewPaymentReconciliationServiceClient(e.conns["payment-reconciliation"]).GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c.ledgerEntries, c.ledgerCents = lt.Entries, lt.TotalCents
	p, err := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"]).GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0001"})
	if err != nil {
		t.Fatal(err)
	}
	c.activeClaims = int64(p.Profile.ActiveClaims)
	return c
}

func TestClaimAndEncounterFlowThroughAllFiveServicesInOneTrace(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	ctx, root := e.tel.Tracer("e2e").Start(context.Background(), "pharmacy submits")
	traceID := root.SpanContext().TraceID().String()
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	cr, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: testClaim()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ing.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: testEncounter()}); err != nil {
		t.Fatal(err)
	}
	root.End()
	if cr.Accepted.EventId != "claim/"+pharmacy+"/RX-1001" || cr.Accepted.Duplicate || cr.Accepted.RawSequence == 0 {
		t.Fatalf("accepted %+v", cr.Accepted)
	}
	e.idle(t)

	// An assessment: 2024 projected cost $7,200 >= $5,330 (2 points) and
	// glyburide at 73 (Beers, 1 point in the sample policy): 3, MODERATE.
	asmts := testkit.Decode(t, e.js, bus.StreamAssessments, func() *riskv1.RiskAssessment { return &riskv1.RiskAssessment{} })
	if len(asmts) != 1 {
		t.Fatalf("%d assessments, want 1", len(asmts))
	}
	a := asmts[0]
	if a.Tier != riskv1.RiskTier_RISK_TIER_MODERATE || a.Score != 3 || len(a.Problems) != 1 || a.Problems[0].Key != "BEERS:glyburide" {
		t.Fatalf("assessment tier %s score %d problems %v", a.Tier, a.Score, a.Problems)
	}
	// A task, an outreach item and a ledger entry, all in the same trace.
	tasks, err := schedulingv1.NewInterventionSchedulingServiceClient(e.conns["intervention-scheduling"]).ListTasks(context.Background(), &schedulingv1.ListTasksRequest{MemberId: "M-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Tasks) != 1 || tasks.Tasks[0].Kind != schedulingv1.TaskKind_TASK_KIND_TMR || tasks.Tasks[0].DueDate.Month != 3 {
		t.Fatalf("tasks %v", tasks.Tasks)
	}
	items, err := outreachv1.NewPrescriberOutreachServiceClient(e.conns["prescriber-outreach"]).ListOutreach(context.Background(), &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Items) != 1 || items.Items[0].ProblemCode != "BEERS" {
		t.Fatalf("outreach %v", items.Items)
	}
	entries, err := ledgerv1.NewPaymentReconciliationServiceClient(e.conns["payment-reconciliation"]).ListLedgerEntries(context.Background(), &ledgerv1.ListLedgerEntriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries.Entries) != 1 || entries.Entries[0].AmountCents != 4000 || entries.Entries[0].CreditAccount != "pharmacy_fees_payable:"+pharmacy {
		t.Fatalf("ledger %v", entries.Entries)
	}
	for what, got := range map[string]string{
		"assessment": a.Meta.TraceId, "task": tasks.Tasks[0].Meta.TraceId,
		"outreach item": items.Items[0].Meta.TraceId, "ledger entry": entries.Entries[0].Meta.TraceId,
	} {
		if got != traceID {
			t.Errorf("%s carries trace %q, want the submission's %s", what, got, traceID)
		}
	}
	// Spans of that trace come from all five services.
	services := map[string]bool{}
	for _, s := range e.spans.Ended() {
		if s.SpanContext().TraceID().String() == traceID {
			for _, kv := range s.Resource().Attributes() {
				if kv.Key == "service.name" {
					services[kv.Value.AsString()] = true
				}
			}
		}
	}
	for _, def := range Services {
		if !services[def.ServiceName()] {
			t.Errorf("no span of %s in the trace (services seen: %v)", def.ServiceName(), services)
		}
	}

	// Delivering the same claim and encounter again changes nothing: through the
	// API (an idempotent resubmission) ...
	before := e.counts(t)
	again, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: testClaim()})
	if err != nil || !again.Accepted.Duplicate || again.Accepted.EventId != "claim/"+pharmacy+"/RX-1001" {
		t.Fatalf("resubmission: %v %v", again, err)
	}
	if r, err := ing.SubmitEncounter(context.Background(), &ingestionv1.SubmitEncounterRequest{Encounter: testEncounter()}); err != nil || !r.Accepted.Duplicate {
		t.Fatalf("encounter resubmission: %v %v", r, err)
	}
	// ... and on the bus under a new message id, as a replay past the stream's
	// duplicate window would deliver them.
	pub := bus.NewPublisher(e.js, e.tel, "e2e-replay")
	claim, enc := testClaim(), testEncounter()
	claim.Meta = &typesv1.EventMeta{EventId: "claim/" + pharmacy + "/RX-1001"}
	enc.Meta = &typesv1.EventMeta{EventId: "encounter/ENC-1"}
	if _, err := pub.Publish(context.Background(),
		bus.Out{Subject: bus.ClaimPaidSubject(bus.Partition("M-0001", 4)), MsgID: "replay-claim", Msg: claim},
		bus.Out{Subject: bus.EncounterSubject(bus.Partition("M-0001", 4)), MsgID: "replay-encounter", Msg: enc}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	after := e.counts(t)
	before.claims++ // the replayed copy is on the stream; its effects must not be
	if after != before {
		t.Fatalf("a repeated delivery changed state:\nbefore %+v\nafter  %+v", before, after)
	}
	if before.ledgerEntries != 1 || before.ledgerCents != 4000 || before.tasks != 1 || before.outreach != 1 || before.activeClaims != 1 || before.assessments != 1 {
		t.Fatalf("unexpected state %+v", before)
	}
}

// TestPrescriberAnswerInAnEncounterReachesOutreachAndPayment: the pharmacist
// learns in an encounter that the prescriber accepted the BEERS change;
// outreach records the answer and payment owes the pharmacy the fee for it.
func TestPrescriberAnswerInAnEncounterReachesOutreachAndPayment(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	if _, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: testClaim()}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	enc := testEncounter()
	enc.EncounterId = "ENC-2"
	enc.ServiceDate = &typesv1.Date{Year: 2024, Month: 3, Day: 5}
	enc.PrescriberResponses = []*encountersv1.PrescriberResponse{{PrescriberNpi: prescriber, ProblemKey: "BEERS:glyburide", Accepted: true, Note: "switched to glipizide"}}
	if _, err := ing.SubmitEncounter(context.Background(), &ingestionv1.SubmitEncounterRequest{Encounter: enc}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	items, err := outreachv1.NewPrescriberOutreachServiceClient(e.conns["prescriber-outreach"]).ListOutreach(context.Background(), &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
	if err != nil || len(items.Items) != 1 || items.Items[0].Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED || items.Items[0].RespondedPharmacyNpi != pharmacy {
		t.Fatalf("outreach %v %v", items, err)
	}
	entries, err := ledgerv1.NewPaymentReconciliationServiceClient(e.conns["payment-reconciliation"]).ListLedgerEntries(context.Background(), &ledgerv1.ListLedgerEntriesRequest{Kind: ledgerv1.EntryKind_ENTRY_KIND_FEE})
	if err != nil {
		t.Fatal(err)
	}
	var accepted *ledgerv1.LedgerEntry
	for _, x := range entries.Entries {
		if x.Service == "PRESCRIBER_ACCEPTED" {
			accepted = x
		}
	}
	if accepted == nil || accepted.AmountCents != 2500 || accepted.CreditAccount != "pharmacy_fees_payable:"+pharmacy || accepted.EntryId != "le/accepted/"+items.Items[0].ItemId {
		t.Fatalf("ledger %v", entries.Entries)
	}
	// By id (the console's journey and statement links): those that exist, none other.
	byID, err := ledgerv1.NewPaymentReconciliationServiceClient(e.conns["payment-reconciliation"]).ListLedgerEntries(context.Background(),
		&ledgerv1.ListLedgerEntriesRequest{EntryIds: []string{"le/accepted/no-such-item", accepted.EntryId}})
	if err != nil || len(byID.Entries) != 1 || !proto.Equal(byID.Entries[0], accepted) {
		t.Fatalf("entries by id: %v %v", byID, err)
	}
}

func TestInvalidClaimIsRejectedWithFieldViolationsAndStored(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	bad := testClaim()
	bad.PrescriberNpi = "1234567890" // wrong check digit
	bad.DaysSupply = 0
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	_, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: bad})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	var fields []string
	var rejectionID string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				fields = append(fields, v.Field+":"+v.Reason)
			}
		case *errdetails.ErrorInfo:
			rejectionID = d.Metadata["rejection_id"]
		}
	}
	if len(fields) != 2 || fields[0] != "days_supply:DAYS_SUPPLY_RANGE" || fields[1] != "prescriber_npi:NPI_CHECK_DIGIT" {
		t.Fatalf("field violations %v", fields)
	}
	got, err := ing.GetRejection(context.Background(), &ingestionv1.GetRejectionRequest{RejectionId: rejectionID})
	if err != nil {
		t.Fatal(err)
	}
	var stored claimsv1.PharmacyClaim
	if err := proto.Unmarshal(got.Rejection.Payload, &stored); err != nil || stored.ClaimId != "RX-1001" || len(got.Rejection.Violations) != 2 {
		t.Fatalf("stored rejection %+v (%v)", got.Rejection, err)
	}
	list, err := ing.ListRejections(context.Background(), &ingestionv1.ListRejectionsRequest{Kind: bus.KindClaim})
	if err != nil || len(list.Rejections) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	e.idle(t)
	if n := len(testkit.Decode(t, e.js, bus.StreamClaims, func() *claimsv1.PharmacyClaim { return &claimsv1.PharmacyClaim{} })); n != 0 {
		t.Fatalf("%d claims published for a rejected submission", n)
	}
}

func TestAReversalCancelsItsClaimDownstreamEvenWhenItComesFirst(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	ctx := context.Background()
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	risk := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"])
	rev := func(id string) *claimsv1.ClaimReversal {
		return &claimsv1.ClaimReversal{ClaimId: id, MemberId: "M-0001", ContractId: "S9925", PbpId: "001",
			PharmacyNpi: pharmacy, ReversalDate: &typesv1.Date{Year: 2024, Month: 1, Day: 20}}
	}
	if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: testClaim()}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	// The reversal cancels the claim: no active fill, and a new assessment (the
	// projected cost and the Beers drug are gone: MODERATE -> LOW).
	if _, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev("RX-1001")}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	p, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile.ActiveClaims != 0 || p.Profile.ReversedClaims != 1 || p.Profile.TotalCostCents != 0 {
		t.Fatalf("after the reversal: %+v", p.Profile)
	}
	asmts := testkit.Decode(t, e.js, bus.StreamAssessments, func() *riskv1.RiskAssessment { return &riskv1.RiskAssessment{} })
	if len(asmts) != 2 || asmts[1].Tier != riskv1.RiskTier_RISK_TIER_LOW || asmts[1].PreviousTier != riskv1.RiskTier_RISK_TIER_MODERATE {
		t.Fatalf("assessments %v", asmts)
	}
	// A reversal that comes before its claim is held; once the claim arrives
	// both are published in order and the claim never counts.
	second := testClaim()
	second.ClaimId = "RX-1002"
	second.DateOfService = &typesv1.Date{Year: 2024, Month: 1, Day: 16}
	r, err := ing.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: rev("RX-1002")})
	if err != nil || !r.Accepted.Held {
		t.Fatalf("early reversal: %v %v", r, err)
	}
	if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: second}); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	p, _ = risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0001"})
	if p.Profile.ActiveClaims != 0 || p.Profile.ReversedClaims != 2 {
		t.Fatalf("after an early reversal and its claim: %+v", p.Profile)
	}
}

// TestServicesExportMetrics scrapes each service's /metrics after a valid
// claim, an encounter and an invalid claim.
func TestServicesExportMetrics(t *testing.T) {
	t.Parallel()
	// Outreach sweeps only at start: a sweep on the wall clock (every 5s by
	// default) would put the pending items in a letter whenever the test runs
	// longer than that on a busy machine, and the figures below would change.
	e := startEnvWith(t, map[string][]string{"intervention-scheduling": {"-clock", "events"},
		"prescriber-outreach": {"-sweep-interval", "24h"}})
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	if _, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: testClaim()}); err != nil {
		t.Fatal(err)
	}
	// The encounter of February 1 comes once the claim's effects are in: sent
	// at once, it can move the event clocks past January before the claim's
	// task and outreach item exist (the figures below are those of this order).
	e.idle(t)
	if _, err := ing.SubmitEncounter(context.Background(), &ingestionv1.SubmitEncounterRequest{Encounter: testEncounter()}); err != nil {
		t.Fatal(err)
	}
	other := testClaim() // a second member, without an encounter: an open TMR
	other.ClaimId, other.MemberId, other.Mbi = "RX-2001", "M-0002", "1EG4TE5MK74"
	if _, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: other}); err != nil {
		t.Fatal(err)
	}
	bad := testClaim()
	bad.ClaimId, bad.PrescriberNpi = "RX-BAD", "1234567890"
	if _, err := ing.SubmitClaim(context.Background(), &ingestionv1.SubmitClaimRequest{Claim: bad}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad claim: %v", err)
	}
	e.idle(t)
	scrape := func(service string) string {
		t.Helper()
		addr := e.st.MetricsAddrs[service]
		if addr == "" {
			t.Fatalf("%s serves no metrics", service)
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	all := ""
	for service, wants := range map[string][]string{
		"ingestion": {`emtm_ingestion_rejections_total{kind="claim",reason="NPI_CHECK_DIGIT"} 1`, `emtm_bus_published_total{duplicate="false",stream="EMTM_CLAIMS"} 2`},
		"risk-scoring": {`emtm_bus_consumed_total{consumer="risk-scoring-claims",result="ok",stream="EMTM_CLAIMS"} 2`,
			`emtm_consumer_pending{consumer="risk-scoring-claims-p`, `emtm_bus_handle_duration_seconds_bucket{consumer="risk-scoring-claims"`},
		"intervention-scheduling": {`emtm_tasks{kind="TMR",status="COMPLETED"} 1`, `emtm_tasks{kind="TMR",status="SCHEDULED"} 1`, `emtm_tasks_backlog{age="not_due",kind="TMR"} 1`}, // due 2024-03-31, by the event clock,
		"prescriber-outreach":     {`emtm_outreach_items{problem="BEERS",status="PENDING"} 2`},
		"payment-reconciliation":  {`emtm_ledger_entries{kind="FEE"} 1`, `emtm_ledger_balance{account="pharmacy_fees_payable"} -4000`},
	} {
		// Gauges are read at scrape time: give a busy machine a few tries.
		var text string
		var missing []string
		for try := 0; try < 20; try++ {
			text, missing = scrape(service), nil
			for _, w := range wants {
				if !strings.Contains(text, w) {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		all += text
		for _, w := range missing {
			t.Errorf("%s metrics lack %s\n%s", service, w, grepLines(text, "emtm_tasks", "emtm_outreach"))
		}

		if strings.Contains(text, "M-0001") || strings.Contains(text, "1EG4TE5MK73") {
			t.Errorf("%s metrics carry a member id or MBI", service)
		}
	}
	// Every metric the Grafana dashboard queries is one the services export.
	b, err := os.ReadFile("../../../../deploy/grafana/emtm-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`emtm_[a-z_]+`).FindAllString(string(b), -1)
	if len(names) < 10 {
		t.Fatalf("the dashboard queries only %v", names)
	}
	for _, n := range names {
		if !strings.Contains(all, "\n"+n) {
			t.Errorf("the dashboard queries %s, which no service exports", n)
		}
	}
}

func grepLines(text string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}
