package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/emtm/emtm/libs/bus"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/emtm/internal/population"
	"github.com/emtm/emtm/services/emtm/internal/stack"
)

// startStack starts the five services with their NATS and a real Redis
// for t (args: each service's extra flags), stopped when t ends.
func startStack(t *testing.T, args map[string][]string) *stack.Stack {
	t.Helper()
	redisURL, _ := testkit.StartRedis(t)
	st, err := stack.Start(context.Background(), stack.Options{DataDir: t.TempDir(), RedisURL: redisURL, ServiceArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	return st
}

// runAt runs emtmctl against the stack st.
func runAt(t *testing.T, st *stack.Stack, args ...string) (string, error) {
	t.Helper()
	env := map[string]string{"EMTM_NATS_URL": st.NATSURL}
	for name, addr := range st.Addrs {
		env["EMTM_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+"_ADDR"] = addr
	}
	cmd := New(func(k string) string { return env[k] })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestImportsAndRejectionsThroughEmtmctl(t *testing.T) {
	t.Parallel()
	st := startStack(t, nil)

	// A CSV with a good claim, its reversal, a claim with an invalid NPI, and an unreadable row.
	csvPath := filepath.Join(t.TempDir(), "claims.csv")
	csvText := "claim_id,member_id,contract_id,pbp_id,date_of_service,status,ndc,ingredients,quantity,days_supply,prescriber_npi,pharmacy_npi,total\n" +
		"RX-1,M-1,S9925,001,2024-03-10,paid,0002-3227-30,atorvastatin,30,30,1234567893,1245319599,13.50\n" +
		"RX-2,M-1,S9925,001,2024-03-11,paid,0002-3227-30,atorvastatin,30,30,1234567890,1245319599,13.50\n" +
		"RX-3,M-2,S9925,001,2024-13-01,paid,0002-3227-30,atorvastatin,30,30,1234567893,1245319599,13.50\n" +
		"RX-1,M-1,S9925,001,2024-03-10,reversed,,,,30,1234567893,1245319599,0\n"
	if err := os.WriteFile(csvPath, []byte(csvText), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runAt(t, st, "import", "claims", csvPath)
	if err != nil {
		t.Fatal(err)
	}
	// M-1 has no enrollment on file yet: the claim waits for it, its reversal for the claim.
	for _, want := range []string{"read        claim 2, reversal 1, unreadable 1", "accepted    0", "held        1", "waiting     1", "rejected    1 (claim:NPI_CHECK_DIGIT 1)", "not sent    1 (unreadable:CSV_DATE 1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("import claims output lacks %q:\n%s", want, out)
		}
	}
	out, err = runAt(t, st, "awaiting")
	if err != nil || !strings.Contains(out, "claim  M-1") {
		t.Fatalf("awaiting: %v\n%s", err, out)
	}
	// The sponsor's feed sends M-1's enrollment: the claim, then its reversal, go through.
	cc, err := grpc.NewClient(st.Addrs["ingestion"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := ingestionv1.NewIngestionServiceClient(cc).SubmitEnrollment(context.Background(), &ingestionv1.SubmitEnrollmentRequest{
		Enrollment: &enrollmentv1.Enrollment{EnrollmentId: "E-M-1", MemberId: "M-1", ContractId: "S9925", PbpId: "001",
			StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
		t.Fatal(err)
	}
	out, err = runAt(t, st, "awaiting")
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("awaiting after the enrollment: %v\n%s", err, out)
	}
	// Importing the same file again changes nothing.
	out, err = runAt(t, st, "import", "claims", csvPath)
	if err != nil || !strings.Contains(out, "accepted    0") || !strings.Contains(out, "duplicates  2") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "rejects", "list")
	if err != nil || !strings.Contains(out, "prescriber_npi") || !strings.Contains(out, "NPI_CHECK_DIGIT") {
		t.Fatalf("rejects list: %v\n%s", err, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	out, err = runAt(t, st, "rejects", "resubmit", id)
	var exit ExitError
	if !asExit(err, &exit) || exit.Code != 1 || !strings.Contains(out, "rejected again") {
		t.Fatalf("resubmitting an unfixable rejection: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "rejects", "show", id)
	// protojson varies its spacing on purpose: compare the payload with spaces squeezed.
	squeezed := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"id RX-2", "member M-1", "sender addr:", "subject emtm.raw.", "NPI_CHECK_DIGIT", `"claimId": "RX-2"`, "status open (resubmitted 1"} {
		if err != nil || !strings.Contains(squeezed, want) {
			t.Errorf("rejects show lacks %q (%v):\n%s", want, err, out)
		}
	}
	if _, err = runAt(t, st, "rejects", "handle", id); err == nil {
		t.Error("a rejection was marked handled without a note")
	}
	out, err = runAt(t, st, "rejects", "handle", id, "--note", "the pharmacy fixed the prescriber NPI and sent RX-2 again")
	if err != nil || !strings.Contains(out, "the pharmacy fixed the prescriber NPI") {
		t.Fatalf("rejects handle: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "rejects", "show", id)
	if err != nil || !strings.Contains(out, "status       handled") || !strings.Contains(out, "handled      ") {
		t.Fatalf("a handled rejection: %v\n%s", err, out)
	}

	// The bundled Synthea sample through `import synthea` (plus M-1 of the CSV: 10 profiles).
	out, err = runAt(t, st, "import", "synthea", "../sampledata/synthea-ca-50")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"claim 31335", "condition 1534", "accepted    2510", "rejected    72 (claim:DATE_BEFORE_PART_D 70, condition:SNOMED_CHECK_DIGIT 2)"} {
		if !strings.Contains(out, want) {
			t.Errorf("import synthea output lacks %q:\n%s", want, out)
		}
	}
	out, err = runAt(t, st, "profile", "b4660d1f-ffbc-95e1-7b4f-69ccbdba8a7b")
	for _, want := range []string{"RISK  score 3, tier MODERATE", "+2  PROJECTED_COST", "MTM ELIGIBILITY 2022: not eligible", "chronic      CHF, HYPERTENSION"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("profile lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, err = runAt(t, st, "profiles", "stats")
	if err != nil || !strings.Contains(out, "tiers      HIGH 1, LOW 7, MODERATE 2") {
		t.Errorf("profiles stats: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "profiles", "rebuild")
	// 11: one member (23545e22) has only an excluding diagnosis (a pregnancy, SNOMED 19169002) and no claim.
	if err != nil || !strings.Contains(out, "rebuilt 11 profiles, live 11, equal 11") {
		t.Errorf("profiles rebuild: %v\n%s", err, out)
	}
	// A CMR of that member, written up in CMS's Standardized Format through `cmr summary`.
	const member = "b4660d1f-ffbc-95e1-7b4f-69ccbdba8a7b"
	if _, err := ingestionv1.NewIngestionServiceClient(cc).SubmitEncounter(context.Background(), &ingestionv1.SubmitEncounterRequest{
		Encounter: &encountersv1.MtmEncounter{EncounterId: "CMR-B466-2022", MemberId: member, ContractId: "S9925", PbpId: "001",
			ServiceDate: &typesv1.Date{Year: 2022, Month: 6, Day: 1}, ServiceCodes: []string{"314530002"}, TaskKind: "CMR",
			PharmacistNpi: "1234567893", PharmacyNpi: "1245319599", Minutes: 40, DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_VIDEO,
			Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED}}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, st)
	dir := t.TempDir()
	pdf, page := filepath.Join(dir, "cmr.pdf"), filepath.Join(dir, "cmr.html")
	out, err = runAt(t, st, "cmr", "summary", "CMR-B466-2022", "--pdf", pdf, "--html", page, "--prepared", "2022-06-03")
	if err != nil || !strings.Contains(out, "CMR of "+member+" on 2022-06-01: 1 topic(s)") || !strings.Contains(out, "send it by 2022-06-15") {
		t.Fatalf("cmr summary: %v\n%s", err, out)
	}
	for _, f := range []string{pdf, page} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() < 2000 {
			t.Fatalf("%s: %v %v: want a file only its owner reads", f, st, err)
		}
	}
	if b, _ := os.ReadFile(page); !bytes.Contains(b, []byte("by video about your health")) || !bytes.Contains(b, []byte("Personal Medication List")) {
		t.Fatalf("the summary's page:\n%s", b)
	}
	if _, err := runAt(t, st, "cmr", "summary", "CMR-B466-2022"); err == nil || !strings.Contains(err.Error(), "--pdf FILE") {
		t.Fatalf("cmr summary with nowhere to write: %v", err)
	}
	out, err = runAt(t, st, "reversals", "held")
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("held reversals: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "status")
	if err != nil || !strings.Contains(out, "EMTM_CLAIMS") || !strings.Contains(out, "risk-scoring-claims-p0") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// waitIdle waits until every consumer of the stack has handled what it was sent.
func waitIdle(t *testing.T, st *stack.Stack) {
	t.Helper()
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.WaitIdle(ctx, js, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func asExit(err error, e *ExitError) bool {
	x, ok := err.(ExitError)
	if ok {
		*e = x
	}
	return ok
}

func TestOutreachAndPaymentThroughEmtmctl(t *testing.T) {
	t.Parallel()
	st := startStack(t, stack.ReplayArgs)
	if _, err := runAt(t, st, "import", "synthea", "../sampledata/synthea-ca-50"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := bus.WaitIdle(ctx, js, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	out, err := runAt(t, st, "outreach", "sweep")
	if err != nil || !strings.Contains(out, "2 letters built, 2 items past their deadline marked no response") {
		t.Fatalf("outreach sweep: %v\n%s", err, out)
	}
	const dr, item = "1390511891", "out/1390511891/186aba1d-da24-7c1f-0761-3d5bcbc0c852/NONADH:RASA/20150427"
	out, err = runAt(t, st, "outreach", "letters", dr)
	for _, want := range []string{"Communication comm/S9925-001/1390511891/2015-W19/1", "Gaps in medication adherence (NONADH)", "PDC 0.70 (< 0.80)", "Reference:      " + item} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("letters lack %q (%v):\n%s", want, err, out)
		}
	}
	out, err = runAt(t, st, "outreach", "respond", item, "accepted", "--note", "90-day fills", "--on", "2015-06-10")
	if err != nil || !strings.Contains(out, "ACCEPTED") || !strings.Contains(out, "2015-06-10") {
		t.Fatalf("respond: %v\n%s", err, out)
	}
	if _, err := runAt(t, st, "outreach", "respond", item, "maybe"); err == nil || !strings.Contains(err.Error(), "use accepted or declined") {
		t.Fatalf("respond maybe: %v", err)
	}
	out, err = runAt(t, st, "outreach", "stats")
	for _, want := range []string{"letters 2;", "NONADH        0     0         1         0            0           2      100.0%", "total        0     0         1         0            1           2       50.0%"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("stats lack %q (%v):\n%s", want, err, out)
		}
	}

	// Payment, checked by hand against the Synthea files (a script over payer_transitions,
	// patients and encounters): the payment clock ends in 2022-02; 420 member months, of which
	// the 406 of 2017-2021 are paid (the model's prospective payment ended with 2021-12).
	out, err = runAt(t, st, "ledger", "sweep")
	if err != nil || !strings.Contains(out, "swept through 2022-02") || !strings.Contains(out, "406 member months booked, 0 reversed") {
		t.Fatalf("ledger sweep: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "statement", "--month", "2022-01")
	if err != nil || !strings.Contains(out, "note: no prospective payment for 2022-01: the plan's prospective payment runs 2017-01 to 2021-12") ||
		!strings.Contains(out, "7 member month(s) enrolled that month are not paid") {
		t.Errorf("statement of 2022-01 (%v):\n%s", err, out)
	}
	// November 2021: 7 members enrolled on the 1st at $3.50; one medication reconciliation
	// (88f0cc20, 2021-11-01, pharmacy 1577687555) at $40.
	csvPath := filepath.Join(t.TempDir(), "statement.csv")
	out, err = runAt(t, st, "statement", "--month", "2021-11", "--csv", csvPath)
	for _, want := range []string{"$24.50  7 member months", "pharmacy fees owed  -$40.00", "net  -$15.50", "pharmacy 1577687555  1  $40.00", "8 entries written"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("statement lacks %q (%v):\n%s", want, err, out)
		}
	}
	if b, err := os.ReadFile(csvPath); err != nil || strings.Count(string(b), "\n") != 9 || !strings.Contains(string(b), "fees_by_pharmacy: pharmacy 1577687555; fees_by_service: MEDREC") {
		t.Errorf("statement CSV (%v):\n%s", err, b)
	}
	out, err = runAt(t, st, "remittance", "--month", "2021-11", "--pharmacy", "1577687555")
	if err != nil || !strings.Contains(out, "2021-11-01    MEDREC   $40.00") || !strings.Contains(out, "total $40.00 for 1 services") {
		t.Errorf("remittance (%v):\n%s", err, out)
	}
	// 2019: $14,484.15 of Parts A/B spending over 85 member months is $2,044.82 per member-year,
	// 84.27 % below the sample benchmark of $13,000: 85 x $2.00 = $170.00, payable in 2021.
	out, err = runAt(t, st, "performance", "--year", "2019", "--settle")
	for _, want := range []string{"$14,484.15 (1 summaries)", "Member months in 2019: 85", "= $2,044.82", "= 84.27 %", "$170.00, payable in 2021", "booked: $170.00 (perf/S9925-001/2019/1)"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("performance lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, err = runAt(t, st, "ledger", "rebuild")
	if err != nil || !strings.Contains(out, "replayed 442 ledger entries") || !strings.Contains(out, "equal to the cent") {
		t.Errorf("rebuild (%v):\n%s", err, out)
	}
}

// Dead letters are read, redelivered and marked handled through emtmctl, and
// each of these actions is in the audit list.
func TestDeadLettersAreHandledThroughEmtmctlAndAudited(t *testing.T) {
	t.Parallel()
	st := startStack(t, nil)
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A claim event no consumer can read: risk-scoring gives up on it at once.
	poison := &nats.Msg{Subject: bus.ClaimPaidSubject("p0"), Data: []byte("\x0f not a claim \x1b[2J"), Header: nats.Header{}}
	poison.Header.Set(jetstream.MsgIDHeader, "poison-1")
	if _, err := js.PublishMsg(ctx, poison); err != nil {
		t.Fatal(err)
	}
	var out string
	for {
		out, err = runAt(t, st, "dlq", "list")
		if err == nil && strings.Contains(out, "risk-scoring-claims") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no dead letter within 30s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	seq := strings.Fields(strings.Split(out, "\n")[1])[0]
	if !strings.Contains(out, "open") {
		t.Fatalf("dlq list: %s", out)
	}
	out, err = runAt(t, st, "dlq", "show", seq)
	if err != nil || !strings.Contains(out, "consumer     risk-scoring-claims") || !strings.Contains(out, "subject emtm.claims.p0.paid") ||
		strings.Contains(out, "\x1b") {
		t.Fatalf("dlq show: %v\n%q", err, out)
	}
	before, _ := js.Stream(ctx, bus.StreamClaims)
	info, _ := before.Info(ctx)
	out, err = runAt(t, st, "dlq", "redeliver", seq)
	if err != nil || !strings.Contains(out, "published again on emtm.claims.p0.paid") {
		t.Fatalf("dlq redeliver: %v\n%s", err, out)
	}
	after, _ := before.Info(ctx)
	if after.State.Msgs != info.State.Msgs+1 {
		t.Fatalf("claims stream %d -> %d messages, want one more", info.State.Msgs, after.State.Msgs)
	}
	if _, err := runAt(t, st, "dlq", "handle", seq); err == nil {
		t.Fatal("a dead letter was marked handled without a note")
	}
	if _, err := runAt(t, st, "dlq", "handle", seq, "--note", "a test's poison message"); err != nil {
		t.Fatal(err)
	}
	out, err = runAt(t, st, "dlq", "list")
	if err != nil || !strings.Contains(out, "handled: a test's poison message") {
		t.Fatalf("dlq list after handling: %v\n%s", err, out)
	}
	out, err = runAt(t, st, "audit", "list", "--method", "emtmctl/dlq")
	if err != nil || strings.Count(out, "REQUESTED") != 2 || strings.Count(out, "FINISHED") != 2 || !strings.Contains(out, `"dlq_sequence":`+seq) {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
}

// generatedWithEmtmctl writes a population of 30 members over 2 years through emtmctl
// and returns its directory and the counts its manifest gives.
func generatedWithEmtmctl(t *testing.T, st *stack.Stack) (string, population.Counts) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "population")
	out, err := runAt(t, st, "generate", "population", "--members", "30", "--years", "2", "--seed", "5", "--out", dir)
	if err != nil || !strings.Contains(out, "members                      30") {
		t.Fatalf("generate population: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, population.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m population.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return dir, m.Counts
}

func TestAGeneratedPopulationImportsWholeAndASecondImportChangesNothing(t *testing.T) {
	t.Parallel()
	st := startStack(t, stack.ReplayArgs)
	dir, c := generatedWithEmtmctl(t, st)
	records := c.Enrollments + c.Conditions + c.Claims + c.Reversals + c.Medical
	if c.Claims < 300 || c.Medical == 0 || c.Conditions == 0 {
		t.Fatalf("a thin population: %+v", c)
	}
	out, err := runAt(t, st, "import", "population", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("read        claim %d, condition %d, enrollment %d, medical %d, reversal %d", c.Claims, c.Conditions, c.Enrollments, c.Medical, c.Reversals),
		fmt.Sprintf("accepted    %d\n", records), "rejected    0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import population output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "held") || strings.Contains(out, "waiting") {
		t.Errorf("each member's enrollment and claims went in order, yet some waited:\n%s", out)
	}
	out, err = runAt(t, st, "import", "population", dir)
	if err != nil || !strings.Contains(out, "accepted    0\n") || !strings.Contains(out, fmt.Sprintf("duplicates  %d ", records)) {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	waitIdle(t, st)
	out, err = runAt(t, st, "profile", "P0000001")
	if err != nil || !strings.Contains(out, "P0000001") {
		t.Fatalf("profile of the first generated member: %v\n%s", err, out)
	}
}

func TestABackfillOverTheBusLoadsAPopulationWholeAndASecondChangesNothing(t *testing.T) {
	t.Parallel()
	st := startStack(t, stack.ReplayArgs)
	dir, c := generatedWithEmtmctl(t, st)
	out, err := runAt(t, st, "backfill", "population", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("records published    %d ", c.Enrollments+c.Conditions+c.Claims+c.Reversals+c.Medical),
		fmt.Sprintf("claims accepted      %d\n", c.Claims), fmt.Sprintf("reversals accepted   %d\n", c.Reversals),
		fmt.Sprintf("enrollment spans     %d\n", c.Enrollments), fmt.Sprintf("diagnoses            %d\n", c.Conditions),
		fmt.Sprintf("Parts A/B summaries  %d\n", c.Medical), "rejections           none\n", "dead letters         0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("backfill output lacks %q:\n%s", want, out)
		}
	}
	for _, grew := range []string{"tasks scheduled", "ledger entries"} {
		if !regexp.MustCompile(`(?m)^` + grew + ` +[1-9]`).MatchString(out) {
			t.Errorf("after the sweeps, %s stayed 0:\n%s", grew, out)
		}
	}
	// Again: the stream drops the same messages within its duplicate window,
	// and ingestion's idempotency any later; nothing is counted twice.
	out, err = runAt(t, st, "backfill", "population", dir)
	if err != nil || !strings.Contains(out, "claims accepted      0\n") || !strings.Contains(out, "assessments          0\n") ||
		!strings.Contains(out, "tasks scheduled      0\n") || !strings.Contains(out, "ledger entries       0\n") {
		t.Fatalf("second backfill: %v\n%s", err, out)
	}
	if out, err := runAt(t, st, "profile", "P0000001"); err != nil || !strings.Contains(out, "P0000001") {
		t.Fatalf("profile of the first generated member: %v\n%s", err, out)
	}
	// The same program as gRPC gives, submitting each member's records in
	// order: the same tasks and outreach items (the passes keep the feed's
	// records from overtaking the claims they follow).
	grpc := startStack(t, stack.ReplayArgs)
	if _, err := runAt(t, grpc, "import", "population", dir); err != nil {
		t.Fatal(err)
	}
	for _, sweep := range []string{"tasks", "outreach", "ledger"} {
		if _, err := runAt(t, grpc, sweep, "sweep"); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, grpc)
	viaBus, err := runAt(t, st, "summary")
	if err != nil {
		t.Fatal(err)
	}
	viaGRPC, err := runAt(t, grpc, "summary")
	if err != nil {
		t.Fatal(err)
	}
	for _, figure := range []string{"tasks scheduled", "outreach items", "prescriber letters", "ledger entries", "profiles"} {
		re := regexp.MustCompile(`(?m)^` + figure + ` +([0-9]+)`)
		a, b := re.FindStringSubmatch(viaBus), re.FindStringSubmatch(viaGRPC)
		if a == nil || b == nil || a[1] != b[1] {
			t.Errorf("%s: %v over the bus, %v through gRPC; want the same", figure, a, b)
		}
	}
}
