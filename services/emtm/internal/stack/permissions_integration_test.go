package stack

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	auditv1 "github.com/emtm/emtm/libs/gen/emtm/audit/v1"
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

// TestEveryClassOfCallerGetsOnlyWhatItsPermissionAllows runs the five
// services over mTLS and calls them as each class of caller: an operator, a
// sponsor's staff, a pharmacy system, the sponsor's feed, and a health probe
// whose certificate names nothing. Each gets what docs/security.md says and
// nothing more; the privileged calls leave audit records on EMTM_AUDIT.
func TestEveryClassOfCallerGetsOnlyWhatItsPermissionAllows(t *testing.T) {
	t.Parallel()
	certs, err := grpcx.WriteDevCerts(t.TempDir(), t.TempDir(), []string{"127.0.0.1", "localhost"}, []grpcx.Client{
		{Name: "operator", Contracts: []string{grpcx.AllContracts}},
		{Name: "sponsor", Contracts: []string{"S9925"}},
		{Name: "pharmacy", Contracts: []string{"pharmacy:" + pharmacy}},
		{Name: "feed", Contracts: []string{"feed:S9925"}},
		{Name: "probe"},
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	redisURL, _ := testkit.StartRedis(t)
	ctx := context.Background()
	args := map[string][]string{}
	for _, d := range Services {
		args[d.ServiceName()] = []string{"-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey, "-tls-client-ca", certs.CA}
	}
	args["intervention-scheduling"] = append(args["intervention-scheduling"], "-clock", "events")
	args["ingestion"] = append(args["ingestion"], "-plans", "S9925-001,S4321-001")
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, Log: io.Discard, ServiceArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	tel, _ := otelx.Setup(ctx, "permissions-test", nil)
	conn := func(client, service string) *grpc.ClientConn {
		f := certs.Clients[client]
		cc, err := grpcx.Dial(st.Addrs[service], tel, grpcx.TLS{CAFile: certs.CA, CertFile: f[0], KeyFile: f[1]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	ing := func(c string) ingestionv1.IngestionServiceClient {
		return ingestionv1.NewIngestionServiceClient(conn(c, "ingestion"))
	}
	risk := func(c string) riskv1.RiskScoringServiceClient {
		return riskv1.NewRiskScoringServiceClient(conn(c, "risk-scoring"))
	}
	sched := func(c string) schedulingv1.InterventionSchedulingServiceClient {
		return schedulingv1.NewInterventionSchedulingServiceClient(conn(c, "intervention-scheduling"))
	}
	outr := func(c string) outreachv1.PrescriberOutreachServiceClient {
		return outreachv1.NewPrescriberOutreachServiceClient(conn(c, "prescriber-outreach"))
	}
	pay := func(c string) ledgerv1.PaymentReconciliationServiceClient {
		return ledgerv1.NewPaymentReconciliationServiceClient(conn(c, "payment-reconciliation"))
	}
	claim := func(id, contract, npi string) *ingestionv1.SubmitClaimRequest {
		c := testClaim()
		c.ClaimId, c.MemberId, c.ContractId, c.PharmacyNpi, c.Mbi = id, "PERM-M-"+contract, contract, npi, ""
		return &ingestionv1.SubmitClaimRequest{Claim: c}
	}
	enrollment := func(contract string) *ingestionv1.SubmitEnrollmentRequest {
		return &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{EnrollmentId: "PERM-E-" + contract,
			MemberId: "PERM-M-" + contract, ContractId: contract, PbpId: "001", StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1},
			BirthDate: &typesv1.Date{Year: 1950, Month: 6, Day: 1}}}
	}
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v, want it allowed", what, err)
		}
	}
	refused := func(what string, err error, text string) {
		t.Helper()
		wantCode(t, what, err, codes.PermissionDenied, text)
	}
	rejected := func(what string, err error, reason string) {
		t.Helper()
		wantCode(t, what, err, codes.InvalidArgument, reason)
	}

	// The members are enrolled (the feed's own contract; the operator's for the other).
	_, err = ing("feed").SubmitEnrollment(ctx, enrollment("S9925"))
	ok("the feed's own enrollment", err)
	enroll(t, ing("operator"), "S4321", "PERM-M-S4321")

	// The pharmacy submits its own claims (two contracts' members: a pharmacy
	// fills for any plan), never another pharmacy's, never the feed's events.
	_, err = ing("pharmacy").SubmitClaim(ctx, claim("PERM-RX-1", "S9925", pharmacy))
	ok("a pharmacy's own claim", err)
	_, err = ing("pharmacy").SubmitClaim(ctx, claim("PERM-RX-2", "S4321", pharmacy))
	ok("a pharmacy's own claim for another plan's member", err)
	_, err = ing("pharmacy").SubmitClaim(ctx, claim("PERM-RX-3", "S9925", "1003000126"))
	rejected("a claim in another pharmacy's name", err, "is not the sender's")
	_, err = ing("pharmacy").SubmitEnrollment(ctx, enrollment("S9925"))
	refused("a pharmacy sending enrollment", err, "names no feed")
	// The feed sends its own contract's enrollment only, and no claims.
	_, err = ing("feed").SubmitEnrollment(ctx, enrollment("S4321"))
	rejected("the feed sending another contract's enrollment", err, "is not one of the feed's contracts")
	_, err = ing("feed").SubmitClaim(ctx, claim("PERM-RX-4", "S9925", pharmacy))
	refused("the feed sending a claim", err, "names no pharmacy")
	// A sponsor submits nothing; rejections are the operator's to read.
	_, err = ing("sponsor").SubmitClaim(ctx, claim("PERM-RX-5", "S9925", pharmacy))
	refused("a sponsor sending a claim", err, "names no pharmacy")
	_, err = ing("sponsor").ListRejections(ctx, &ingestionv1.ListRejectionsRequest{})
	refused("a sponsor listing rejections", err, "not an operator")
	rejs, err := ing("operator").ListRejections(ctx, &ingestionv1.ListRejectionsRequest{})
	ok("the operator listing rejections", err)
	reasons := map[string]bool{}
	for _, r := range rejs.GetRejections() {
		for _, v := range r.GetViolations() {
			reasons[v.GetReason()] = true
		}
	}
	if !reasons["SENDER_MISMATCH"] {
		t.Fatalf("the sender mismatches are not stored as rejections: %v", rejs)
	}

	// Wait for the two members' profiles.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, e1 := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "PERM-M-S9925"})
		_, e2 := risk("operator").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "PERM-M-S4321"})
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("profiles not built within 30s: %v %v", e1, e2)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A sponsor reads its own members and contract, and nothing else.
	_, err = risk("sponsor").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "PERM-M-S9925"})
	ok("a sponsor's own member", err)
	_, err = risk("sponsor").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "PERM-M-S4321"})
	wantCode(t, "another sponsor's member", err, codes.NotFound, "")
	_, err = risk("sponsor").ListByTier(ctx, &riskv1.ListByTierRequest{ContractId: "S4321", PbpId: "001"})
	refused("another sponsor's tier list", err, "contract S4321 is not one of [S9925]")
	_, err = risk("sponsor").GetProfileStats(ctx, &riskv1.GetProfileStatsRequest{})
	refused("every contract's profile statistics", err, "are for operators")
	_, err = risk("sponsor").GetProfileStats(ctx, &riskv1.GetProfileStatsRequest{ContractId: "S9925", PbpId: "001"})
	ok("a sponsor's own plan's profile statistics", err)
	_, err = risk("sponsor").GetProfileStats(ctx, &riskv1.GetProfileStatsRequest{ContractId: "S4321", PbpId: "001"})
	refused("another sponsor's profile statistics", err, "contract S4321 is not one of [S9925]")
	_, err = risk("sponsor").ListAssessments(ctx, &riskv1.ListAssessmentsRequest{MemberId: "PERM-M-S4321"})
	wantCode(t, "another sponsor's member's assessments", err, codes.NotFound, "")
	found, err := ing("sponsor").FindClaim(ctx, &ingestionv1.FindClaimRequest{ClaimId: "PERM-RX-1"})
	ok("a sponsor's own claim", err)
	if len(found.GetClaims()) != 1 || found.Claims[0].ContractId != "S9925" || len(found.Rejections) != 0 {
		t.Errorf("a sponsor's own claim: %v", found)
	}
	_, err = ing("sponsor").FindClaim(ctx, &ingestionv1.FindClaimRequest{ClaimId: "PERM-RX-2"})
	wantCode(t, "another sponsor's claim", err, codes.NotFound, "")
	_, err = sched("sponsor").GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	refused("every contract's task counts", err, "are for operators")
	_, err = sched("sponsor").GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: "S4321", PbpId: "001"})
	refused("another sponsor's task counts", err, "contract S4321 is not one of [S9925]")
	_, err = sched("sponsor").GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: "S9925", PbpId: "001"})
	ok("a sponsor's own task counts", err)
	_, err = risk("sponsor").RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{})
	refused("a sponsor rebuilding profiles", err, "not an operator")
	_, err = sched("sponsor").Sweep(ctx, &schedulingv1.SweepRequest{})
	refused("a sponsor sweeping tasks", err, "not an operator")
	_, err = outr("sponsor").ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: prescriber})
	ok("a sponsor's own outreach", err)
	_, err = outr("sponsor").GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{})
	refused("every contract's outreach statistics", err, "are for operators")
	_, err = outr("sponsor").GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{ContractId: "S4321", PbpId: "001"})
	refused("another sponsor's outreach statistics", err, "contract S4321 is not one of [S9925]")
	_, err = pay("sponsor").GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: "S4321", PbpId: "001", Month: &typesv1.YearMonth{Year: 2024, Month: 1}})
	refused("another sponsor's statement", err, "contract S4321 is not one of [S9925]")
	_, err = pay("sponsor").ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{})
	wantCode(t, "every contract's ledger", err, codes.PermissionDenied, "contract_id")
	_, err = pay("sponsor").ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{ContractId: "S9925"})
	ok("a sponsor's own ledger", err)
	_, err = pay("sponsor").RebuildLedger(ctx, &ledgerv1.RebuildLedgerRequest{})
	refused("a sponsor rebuilding the ledger", err, "not an operator")
	// A pharmacy or the feed reads nothing.
	_, err = risk("pharmacy").GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "PERM-M-S9925"})
	refused("a pharmacy reading a profile", err, "names no contract")
	_, err = pay("feed").ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{ContractId: "S9925"})
	refused("the feed reading the ledger", err, "names no contract")

	// The probe's certificate names nothing: health and nothing else.
	for _, d := range Services {
		if _, err := healthpb.NewHealthClient(conn("probe", d.ServiceName())).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("the probe's health check of %s: %v", d.ServiceName(), err)
		}
	}
	_, err = sched("probe").ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"})
	refused("the probe listing tasks", err, "names no contract")
	_, err = ing("probe").SubmitClaim(ctx, claim("PERM-RX-6", "S9925", pharmacy))
	refused("the probe sending a claim", err, "names no pharmacy")

	// The operator rebuilds the ledger; the call and the sponsor's refused
	// attempt are on the audit stream, with who, what and the outcome.
	_, err = pay("operator").RebuildLedger(ctx, &ledgerv1.RebuildLedgerRequest{})
	ok("the operator rebuilding the ledger", err)
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	cons, err := js.OrderedConsumer(ctx, bus.StreamAudit, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*auditv1.AuditRecord
	batch, err := cons.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		r := &auditv1.AuditRecord{}
		if err := proto.Unmarshal(m.Data(), r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var got []string
	for _, r := range recs {
		if r.Method == ledgerv1.PaymentReconciliationService_RebuildLedger_FullMethodName {
			got = append(got, r.Caller+" "+r.Phase.String()+" "+r.Code)
		}
	}
	want := []string{"cert:sponsor PHASE_FINISHED PERMISSION_DENIED", "cert:operator PHASE_REQUESTED ", "cert:operator PHASE_FINISHED OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit records of RebuildLedger %q, want %q (all records: %v)", got, want, recs)
	}
	if len(recs) < 5 { // and the refused profile rebuild and task sweep
		t.Fatalf("%d audit records, want the refused profile rebuild and task sweep too: %v", len(recs), recs)
	}
}
