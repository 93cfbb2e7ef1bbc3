package consoletest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/syncbuf"
	"github.com/emtm/emtm/libs/testkit"
	console "github.com/emtm/emtm/services/console/service"
	"github.com/emtm/emtm/services/emtm/internal/runner"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

const (
	prescriber = "1234567893"
	pharmacy   = "1245319599"
	// claimID is the claim the journey follows: it makes M-0001 MODERATE with
	// a BEERS problem (a TMR task, an outreach item that the prescriber
	// accepts in an encounter, and the pharmacy's fee for it).
	claimID = "RX-1001"
)

var plan = planid.ID{Contract: "S9925", PBP: "001"}

// fixture is the running stack with the sample population and the journey's
// claim loaded, Jaeger receiving every service's traces, and gRPC clients.
type fixture struct {
	st     *stack.Stack
	js     jetstream.JetStream
	conns  summary.Conns
	jaeger string
	tel    *otelx.Telemetry
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	sharedErr   error
	stopShared  = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopShared()
	benchClose()
	os.Exit(code)
}

// start runs the fixture once for the package's tests.
func start(t *testing.T) *fixture {
	t.Helper()
	testkit.Integration(t)
	fixtureOnce.Do(func() { shared, sharedErr = newFixture(t) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func newFixture(t *testing.T) (*fixture, error) {
	otlp, query := testkit.StartJaeger(&onceT{T: t}, filepath.Join("..", "..", "..", "..", "deploy", "jaeger", "jaeger.yaml"))
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return "http://" + otlp
		}
		return ""
	}
	dir, err := os.MkdirTemp("", "emtm-console-test-")
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	// The sample program, with a CMR for MODERATE members too: M-0001's CMR
	// leaves a written summary to send (a task with a link to its PDF).
	program, err := os.ReadFile(filepath.Join("..", "..", "..", "intervention-scheduling", "internal", "policy", "program.yaml"))
	if err != nil {
		return nil, err
	}
	programPath := filepath.Join(dir, "program.yaml")
	if err := os.WriteFile(programPath, []byte(strings.Replace(string(program), "    MODERATE:\n", "    MODERATE:\n      - {kind: CMR, due_days: 60, priority: 90}\n", 1)), 0o600); err != nil {
		return nil, err
	}
	args := map[string][]string{}
	for name, a := range stack.ReplayArgs {
		args[name] = a
	}
	args["intervention-scheduling"] = append(append([]string{}, args["intervention-scheduling"]...), "-policy", programPath)
	st, err := stack.Start(ctx, stack.Options{DataDir: dir, Partitions: 4, InstallRedis: true, Getenv: getenv, Log: io.Discard, Out: io.Discard,
		ServiceArgs: args})
	if err != nil {
		return nil, err
	}
	f := &fixture{st: st, conns: summary.Conns{}, jaeger: "http://" + query}
	// Chained, not replaced: Jaeger's stop and its directory were registered first.
	prev := stopShared
	stopShared = func() {
		st.Stop()
		_ = os.RemoveAll(dir)
		prev()
	}
	if f.tel, err = otelx.Setup(ctx, "pharmacy-system", getenv); err != nil {
		return nil, err
	}
	for name, addr := range st.Addrs {
		cc, err := grpcx.Dial(addr, f.tel)
		if err != nil {
			return nil, err
		}
		f.conns[name] = cc
	}
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		return nil, err
	}
	if f.js, err = jetstream.New(nc); err != nil {
		return nil, err
	}
	if err := runner.LoadSample(ctx, "", f.conns["ingestion"], io.Discard, io.Discard); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if err := f.submitJourney(ctx); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := runner.Settle(wctx, f.js, f.conns); err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	return f, nil
}

// onceT lets a helper that takes a testing.TB register its cleanup with the
// package (the fixture outlives the first test).
type onceT struct{ *testing.T }

func (o *onceT) Cleanup(f func()) {
	prev := stopShared
	stopShared = func() { prev(); f() }
}

func (o *onceT) TempDir() string {
	d, err := os.MkdirTemp("", "emtm-console-test-")
	if err != nil {
		o.T.Fatal(err)
	}
	o.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// submitJourney enrolls M-0001, sends the claim in one trace, and an
// encounter in which the prescriber accepted the BEERS recommendation.
func (f *fixture) submitJourney(ctx context.Context) error {
	ing := ingestionv1.NewIngestionServiceClient(f.conns["ingestion"])
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
		EnrollmentId: "E-M-0001", MemberId: "M-0001", ContractId: plan.Contract, PbpId: plan.PBP, StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
		return err
	}
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
		EnrollmentId: "E-M-0003", MemberId: "M-0003", ContractId: plan.Contract, PbpId: plan.PBP, StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
		return err
	}
	if _, err := ing.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: &enrollmentv1.Enrollment{
		EnrollmentId: "E-M-0002", MemberId: "M-0002", ContractId: plan.Contract, PbpId: plan.PBP, StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}}}); err != nil {
		return err
	}
	if err := bus.WaitIdle(ctx, f.js, 25*time.Millisecond); err != nil {
		return err
	}
	claim := func(id, member, mbi string, on *typesv1.Date) *claimsv1.PharmacyClaim {
		return &claimsv1.PharmacyClaim{
			ClaimId: id, MemberId: member, Mbi: mbi, ContractId: plan.Contract, PbpId: plan.PBP,
			DateOfService: on, RxnormCode: "310534",
			Ingredients: []string{"glyburide"}, DrugDescription: "glyBURIDE 5 MG Oral Tablet",
			QuantityMilli: 60000, DaysSupply: 30, PrescriberNpi: prescriber, PharmacyNpi: pharmacy,
			IngredientCostCents: 59000, DispensingFeeCents: 1000, TotalCents: 60000,
			BirthDate: &typesv1.Date{Year: 1950, Month: 6, Day: 1},
		}
	}
	tctx, root := f.tel.Tracer("pharmacy").Start(ctx, "pharmacy submits a claim")
	_, err := ing.SubmitClaim(tctx, &ingestionv1.SubmitClaimRequest{Claim: claim(claimID, "M-0001", "1EG4TE5MK73", &typesv1.Date{Year: 2024, Month: 1, Day: 15})})
	root.End()
	if err != nil {
		return err
	}
	// A second member's claim leaves a task open (the backlog's chart).
	if r, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: claim("RX-2001", "M-0002", "2EG4TE5MK74", &typesv1.Date{Year: 2024, Month: 1, Day: 20})}); err != nil {
		return err
	} else if r.Accepted == nil || r.Accepted.EventId == "" {
		return fmt.Errorf("M-0002's claim was not accepted: %v", r)
	}
	if err := bus.WaitIdle(ctx, f.js, 25*time.Millisecond); err != nil {
		return err
	}
	_, err = ing.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: &encountersv1.MtmEncounter{
		EncounterId: "ENC-2", MemberId: "M-0001", ContractId: plan.Contract, PbpId: plan.PBP,
		ServiceDate: &typesv1.Date{Year: 2024, Month: 3, Day: 5}, ServiceCodes: []string{"430193006"},
		PharmacistNpi: prescriber, PharmacyNpi: pharmacy, Minutes: 30,
		DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
		PrescriberResponses: []*encountersv1.PrescriberResponse{{PrescriberNpi: prescriber, ProblemKey: "BEERS:glyburide", Accepted: true, Note: "switched to glipizide"}},
	}})
	if err != nil {
		return err
	}
	// M-0001's CMR: its written summary is a task with a link to the PDF.
	_, err = ing.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: &encountersv1.MtmEncounter{
		EncounterId: cmrEncounter, MemberId: "M-0001", ContractId: plan.Contract, PbpId: plan.PBP,
		ServiceDate: &typesv1.Date{Year: 2024, Month: 3, Day: 10}, ServiceCodes: []string{"314530002"}, TaskKind: "CMR",
		PharmacistNpi: prescriber, PharmacyNpi: pharmacy, Minutes: 45,
		DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_IN_PERSON, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
	}})
	return err
}

// cmrEncounter is M-0001's CMR (submitJourney).
const cmrEncounter = "ENC-CMR-1"

// deadLetter puts on EMTM_DLQ what risk-scoring's consumer writes when it
// gives up on an event: M-0003's claim, with the error that stopped it.
func (f *fixture) deadLetter(t *testing.T) {
	t.Helper()
	c := &claimsv1.PharmacyClaim{Meta: &typesv1.EventMeta{EventId: "claim/" + pharmacy + "/RX-3001", Producer: "ingestion"},
		ClaimId: "RX-3001", MemberId: "M-0003", Mbi: "3EG4TE5MK75", ContractId: plan.Contract, PbpId: plan.PBP,
		DateOfService: &typesv1.Date{Year: 2024, Month: 2, Day: 1}, RxnormCode: "310534", Ingredients: []string{"glyburide"},
		QuantityMilli: 60000, DaysSupply: 30, PrescriberNpi: prescriber, PharmacyNpi: pharmacy, TotalCents: 60000,
		BirthDate: &typesv1.Date{Year: 1950, Month: 6, Day: 1}}
	data, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	p := bus.Partition("M-0003", 4)
	m := nats.NewMsg(bus.DeadLetterSubject("risk-scoring-claims-" + p))
	m.Data = data
	m.Header.Set(bus.HeaderContentType, bus.ContentProtobuf)
	m.Header.Set(bus.HeaderEventType, string(c.ProtoReflect().Descriptor().FullName()))
	m.Header.Set(bus.HeaderDLQStream, bus.StreamClaims)
	m.Header.Set(bus.HeaderDLQSubject, bus.ClaimPaidSubject(p))
	m.Header.Set(bus.HeaderDLQSequence, "999999")
	m.Header.Set(bus.HeaderDLQDeliveries, "5")
	m.Header.Set(bus.HeaderDLQConsumer, "risk-scoring-claims-"+p)
	m.Header.Set(bus.HeaderDLQError, "simulated: Redis did not answer")
	if _, err := f.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// console serves the console against the fixture until the test ends.
func (f *fixture) console(t *testing.T, c console.Config) string {
	t.Helper()
	c.Services = f.st.Addrs
	c.NATSURL = f.st.NATSURL
	if c.Addr == "" {
		c.Addr = testkit.FreeAddr(t)
	}
	if len(c.Plans) == 0 {
		c.Plans = []planid.ID{plan}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := console.Start(ctx, c, f.tel, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console: %v", err)
		}
	})
	return s.URL
}

// browser is a headless Debian chromium driven by chromedp that records
// every console error, failed load and uncaught exception of its pages.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		cancel()
		cancelA()
		t.Fatalf("chromium (%s) did not start: %v", path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelA()
		<-done
	})
	return b
}

// open loads a page, waits until it has loaded (its charts' scripts ran) and
// fails the test on any console error.
func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady("footer")); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	b.noErrors(t, u)
}

func (b *browser) noErrors(t *testing.T, what string) {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // a late script error reaches the reader
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("%s: errors in the browser: %v", what, b.errors)
		b.errors = nil
	}
}

// text is the text of the element with data-testid id.
func (b *browser) text(t *testing.T, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="`+id+`"]`))
	if err != nil {
		t.Fatalf("no element data-testid=%q: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// submit presses the button of the first form matching form and returns the
// note the page it leads to shows (the action's outcome).
func (b *browser) submit(t *testing.T, form string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(form+" button"), chromedp.WaitVisible(`p.note`)); err != nil {
		t.Fatalf("submit %s: %v", form, err)
	}
	note, err := chromedp.Run(ctx, chromedp.Text(`p.note`))
	if err != nil {
		t.Fatal(err)
	}
	return note
}

// count is the number of elements matching sel.
func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// chromium finds Debian's chromium (make test installs it when root).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("EMTM_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatal("the console's browser tests need Debian's chromium: run `sudo apt-get install -y chromium` (make test installs it when run as root), or set EMTM_CHROMIUM to a Chromium binary")
	return ""
}

func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func TestEveryPageOfTheConsoleShowsWhatTheServicesSayWithoutBrowserErrors(t *testing.T) {
	f := start(t)
	base := f.console(t, console.Config{JaegerURL: f.jaeger})
	b := newBrowser(t)
	ctx := context.Background()
	risk := riskv1.NewRiskScoringServiceClient(f.conns["risk-scoring"])
	sched := schedulingv1.NewInterventionSchedulingServiceClient(f.conns["intervention-scheduling"])
	out := outreachv1.NewPrescriberOutreachServiceClient(f.conns["prescriber-outreach"])
	pay := ledgerv1.NewPaymentReconciliationServiceClient(f.conns["payment-reconciliation"])

	stats, err := risk.GetProfileStats(ctx, &riskv1.GetProfileStatsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := sched.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
	if err != nil {
		t.Fatal(err)
	}
	ost, err := out.GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
	if err != nil {
		t.Fatal(err)
	}
	// One plan holds every member here: its counters must equal every plan's.
	all, err := sched.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	allOut, err := out.GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var tasks, allTasks int64
	for _, c := range counts.Counts {
		tasks += c.Count
	}
	for _, c := range all.Counts {
		allTasks += c.Count
	}
	if tasks != allTasks || tasks == 0 || counts.Scheduled != all.Scheduled || ost.Total.GetAccepted() != allOut.Total.GetAccepted() ||
		ost.Communications != allOut.Communications || len(ost.ByProblem) != len(allOut.ByProblem) {
		t.Fatalf("the plan's counters differ from every plan's: tasks %d vs %d (scheduled %d vs %d), accepted %d vs %d, letters %d vs %d",
			tasks, allTasks, counts.Scheduled, all.Scheduled, ost.Total.GetAccepted(), allOut.Total.GetAccepted(), ost.Communications, allOut.Communications)
	}

	t.Run("overview", func(t *testing.T) {
		b.open(t, base+"/")
		var members int64
		for _, tier := range []string{"HIGH", "MODERATE", "LOW"} {
			members += stats.ByTier[tier]
			if got := b.text(t, "tier-"+tier); got != num(stats.ByTier[tier]) {
				t.Errorf("tier %s: page %q, risk-scoring %d", tier, got, stats.ByTier[tier])
			}
		}
		for id, want := range map[string]string{"members": num(members), "eligible": num(stats.Eligible), "tasks-all": num(tasks),
			"outreach-accepted": num(ost.Total.GetAccepted()), "letters": num(ost.Communications), "dead-letters": "0"} {
			if got := b.text(t, id); got != want {
				t.Errorf("%s: page %q, services %q", id, got, want)
			}
		}
		if ost.Total.GetAccepted() != 1 {
			t.Errorf("the accepted recommendation is not counted: %+v", ost.Total)
		}
		if n := b.count(t, ".chart .uplot"); n != 1 {
			t.Errorf("%d charts drawn, want 1", n)
		}
	})
	t.Run("tasks", func(t *testing.T) {
		b.open(t, base+"/tasks")
		byKind := map[string]int64{}
		for _, c := range counts.Counts {
			byKind[strings.TrimPrefix(c.Kind.String(), "TASK_KIND_")] += c.Count
		}
		for kind, n := range byKind {
			if got := b.text(t, "count-"+kind); got != num(n) {
				t.Errorf("%s tasks: page %q, scheduling %d", kind, got, n)
			}
		}
		if b.count(t, `[data-testid="measures"] tbody tr`) == 0 {
			t.Error("no measures")
		}
		if len(counts.Capacity) == 0 {
			t.Error("scheduling reports no weekly capacity")
		}
		for _, c := range counts.Capacity {
			if got := b.text(t, "capacity-"+c.Kind); got != num(c.Used) {
				t.Errorf("%s capacity used: page %q, scheduling %d", c.Kind, got, c.Used)
			}
		}
		if n := b.count(t, ".chart .uplot"); n != 1 {
			t.Errorf("%d charts drawn, want 1; backlog %q, scheduling's %v; all %v %v", n, b.text(t, "backlog"), counts.Backlog, all.Backlog, counts.Counts)
		}
	})
	t.Run("outreach", func(t *testing.T) {
		b.open(t, base+"/outreach")
		if got := b.text(t, "letters"); got != num(ost.Communications) {
			t.Errorf("letters: page %q, outreach %d", got, ost.Communications)
		}
		if got := b.text(t, "accepted"); got != num(ost.Total.GetAccepted()) {
			t.Errorf("accepted: page %q, outreach %d", got, ost.Total.GetAccepted())
		}
		if n := b.count(t, `[data-testid="letter-list"] tbody tr code`); n == 0 || int64(n) > ost.Communications {
			t.Errorf("%d letters listed of %d", n, ost.Communications)
		}
	})
	t.Run("payments", func(t *testing.T) {
		b.open(t, base+"/payments")
		month := &typesv1.YearMonth{Year: counts.Today.Year, Month: counts.Today.Month}
		st, err := pay.GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: plan.Contract, PbpId: plan.PBP, Month: month})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := b.text(t, fmt.Sprintf("net-%04d-%02d", month.Year, month.Month)), money.Dollars(st.Statement.NetCents); got != want {
			t.Errorf("net of %v: page %q, payment %q", month, got, want)
		}
		if st.Statement.FeesCents == 0 {
			t.Errorf("no fee in %v: the accepted recommendation's fee is missing", month)
		}
		b.text(t, "performance-unknown") // the sample plan has no benchmark for the year: never $0
		// Every figure of the statement leads to its entries.
		if len(st.Statement.Lines) == 0 {
			t.Fatal("the statement has no lines")
		}
		line := st.Statement.Lines[0]
		b.open(t, base+"/payments/entries?plan="+plan.String()+fmt.Sprintf("&month=%04d-%02d&line=0", month.Year, month.Month))
		if got := b.text(t, "line-amount"); got != money.Dollars(line.AmountCents) {
			t.Errorf("line 0: page %q, statement %q", got, money.Dollars(line.AmountCents))
		}
		if n := b.count(t, `[data-testid="entries"] tbody tr`); n != len(line.EntryIds) || n == 0 {
			t.Errorf("line 0 lists %d entries, the statement names %d", n, len(line.EntryIds))
		}
	})
	t.Run("member", func(t *testing.T) {
		b.open(t, base+"/members/M-0001")
		p, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0001"})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.text(t, "active-claims"); got != strconv.Itoa(int(p.Profile.ActiveClaims)) {
			t.Errorf("active claims: page %q, risk-scoring %d", got, p.Profile.ActiveClaims)
		}
		if got := b.text(t, "tier"); got != "MODERATE" {
			t.Errorf("tier %q", got)
		}
		if got := b.text(t, "member-tasks"); !strings.Contains(got, "TMR") || !strings.Contains(got, "CMR_SUMMARY") {
			t.Errorf("the member's TMR and the task to send the CMR's summary are not listed: %q", got)
		}
		if n := b.count(t, `a[data-testid="cmr-summary"][href="/cmr/`+cmrEncounter+`/summary.pdf"]`); n != 1 {
			t.Errorf("%d links to the CMR's written summary, want 1", n)
		}
		if got := b.text(t, "member-outreach"); !strings.Contains(got, "BEERS") || !strings.Contains(got, "ACCEPTED") {
			t.Errorf("the member's accepted BEERS item is not listed: %q", got)
		}
	})
	t.Run("operations", func(t *testing.T) {
		b.open(t, base+"/operations")
		for _, name := range []string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"} {
			if got := b.text(t, "health-"+name); got != "SERVING" {
				t.Errorf("%s: %q", name, got)
			}
		}
		if n := b.count(t, `[data-testid="consumers"] tbody tr`); n < 13 {
			t.Errorf("%d consumers listed", n)
		}
	})
	t.Run("the journey of a claim reaches all five services and draws its trace", func(t *testing.T) {
		want := []string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"}
		traced := waitForTrace(t, b, base)
		hops := b.text(t, "services")
		for _, s := range want {
			if !strings.Contains(hops, s) {
				t.Errorf("the journey's hops miss %s: %q", s, hops)
			}
			if !strings.Contains(traced, s) {
				t.Errorf("the trace's spans miss %s: %q", s, traced)
			}
		}
		if n := b.count(t, `[data-testid="waterfall"] rect`); n < 5 {
			t.Errorf("%d spans drawn", n)
		}
	})
	t.Run("an operator redelivers a dead letter", func(t *testing.T) {
		// risk-scoring gave up on M-0003's claim (as when its Redis was down past the retries).
		f.deadLetter(t)
		b.open(t, base+"/operations")
		if got := b.text(t, "dead"); !strings.Contains(got, "simulated: Redis did not answer") || !strings.Contains(got, "risk-scoring-claims-p") {
			t.Fatalf("the dead letter is not listed: %q", got)
		}
		if got := b.text(t, "dead-letters"); got != "1" {
			t.Errorf("dead letters %q, want 1", got)
		}
		if _, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0003"}); err == nil {
			t.Fatal("M-0003 has a profile before the redelivery")
		}
		if note := b.submit(t, `form[action^="/operations/deadletters/"]`); !strings.Contains(note, "handled again by risk-scoring-claims-p") {
			t.Fatalf("after the click: %q", note)
		}
		b.noErrors(t, "redeliver")
		p, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M-0003"})
		if err != nil || p.Profile.ActiveClaims != 1 {
			t.Fatalf("M-0003 after the redelivery: %v %v", p, err)
		}
	})
	t.Run("an operator resubmits a rejection", func(t *testing.T) {
		b.open(t, base+"/operations")
		attr, err := chromedp.Run(b.ctx, chromedp.AttributeValue(`form[action^="/operations/rejections/"]`, "action"))
		if err != nil || attr.Value == "" {
			t.Fatalf("no resubmit button: %v", err)
		}
		id, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(attr.Value, "/operations/rejections/"), "/resubmit"))
		if note := b.submit(t, `form[action^="/operations/rejections/"]`); !strings.Contains(note, "resubmitted") {
			t.Errorf("after the click: %q", note)
		}
		b.noErrors(t, "resubmit")
		got, err := ingestionv1.NewIngestionServiceClient(f.conns["ingestion"]).GetRejection(context.Background(), &ingestionv1.GetRejectionRequest{RejectionId: id})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Resubmissions != 1 {
			t.Errorf("rejection %s resubmitted %d times, want 1", id, got.Status.Resubmissions)
		}
	})
}

// waitForTrace opens the journey's page until its trace has spans of all
// five services (they export spans in batches) and returns their names.
func waitForTrace(t *testing.T, b *browser, base string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	traced := ""
	for {
		b.open(t, base+"/claims/"+url.PathEscape(claimID))
		if b.count(t, `[data-testid="waterfall"]`) == 1 {
			traced = b.text(t, "trace-services")
			if strings.Count(traced, ",") >= 5 { // the five and the pharmacy's own
				return traced
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete trace drawn within 60 s: %q", traced)
		}
		time.Sleep(2 * time.Second)
	}
}

func TestAFormPostedFromAnotherSiteIsRefused(t *testing.T) {
	f := start(t)
	base := f.console(t, console.Config{})
	req, _ := http.NewRequest(http.MethodPost, base+"/operations/rejections/x/resubmit", nil)
	req.Header.Set("Origin", "https://attacker.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site POST got %d, want 403", resp.StatusCode)
	}
}

// TestTheConsoleShowsEachPersonOnlyTheirContracts serves the console over
// HTTPS with client certificates: a sponsor of another contract sees none of
// S9925's members, claims, tasks or money, and only operators get operations.
func TestTheConsoleShowsEachPersonOnlyTheirContracts(t *testing.T) {
	f := start(t)
	dir := t.TempDir()
	certs, err := grpcx.WriteDevCerts(dir, "", []string{"127.0.0.1", "localhost"}, []grpcx.Client{
		{Name: "ops", Contracts: []string{"*"}}, {Name: "s9925", Contracts: []string{"S9925"}}, {Name: "h9999", Contracts: []string{"H9999"}},
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	base := f.console(t, console.Config{TLSCert: certs.ServerCert, TLSKey: certs.ServerKey, TLSClientCA: certs.CA,
		Plans: []planid.ID{plan, {Contract: "H9999", PBP: "001"}}})
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(certs.CA)
	pool.AppendCertsFromPEM(caPEM)
	client := func(name string) *http.Client {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if name != "" {
			kp, err := tls.LoadX509KeyPair(certs.Clients[name][0], certs.Clients[name][1])
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Without a client certificate: no page, but the health probes answer.
	if code, body := get(client(""), "/"); code != http.StatusForbidden || !strings.Contains(body, "client certificate is required") {
		t.Fatalf("a browser without a client certificate got %d", code)
	}
	if code, _ := get(client(""), "/healthz"); code != http.StatusOK {
		t.Fatalf("the health probe got %d", code)
	}
	ops, s9925, h9999 := client("ops"), client("s9925"), client("h9999")
	for _, c := range []struct {
		who    string
		c      *http.Client
		path   string
		status int
		has    string
	}{
		{"operator", ops, "/", 200, `data-testid="members"`},
		{"operator", ops, "/operations", 200, `data-testid="health"`},
		{"operator", ops, "/members/M-0001", 200, "MODERATE"},
		{"S9925's staff", s9925, "/", 200, "Plan S9925-001"},
		{"S9925's staff", s9925, "/members/M-0001", 200, "MODERATE"},
		{"S9925's staff", s9925, "/claims/" + claimID, 200, "prescriber-outreach"},
		{"S9925's staff", s9925, "/cmr/" + cmrEncounter + "/summary.pdf", 200, "Personal Medication List for Member ID M-0001"},
		{"S9925's staff", s9925, "/?plan=H9999-001", 404, "not one you may see"},
		{"S9925's staff", s9925, "/operations", 403, "operators"},
		{"S9925's staff", s9925, "/whatif", 403, "for operators"},
		{"operator", ops, "/whatif", 200, "cannot run a what-if"},
		{"H9999's staff", h9999, "/", 200, "Plan H9999-001"},
		{"H9999's staff", h9999, "/?plan=S9925-001", 404, "not one you may see"},
		{"H9999's staff", h9999, "/tasks?plan=S9925-001", 404, "not one you may see"},
		{"H9999's staff", h9999, "/payments?plan=S9925-001", 404, "not one you may see"},
		{"H9999's staff", h9999, "/members/M-0001", 404, "no profile"},
		{"H9999's staff", h9999, "/claims/" + claimID, 404, "no claim"},
		{"H9999's staff", h9999, "/cmr/" + cmrEncounter + "/summary.pdf", 404, "no completed CMR"},
		{"H9999's staff", h9999, "/operations", 403, "operators"},
	} {
		code, body := get(c.c, c.path)
		if code != c.status || !strings.Contains(body, c.has) {
			t.Errorf("%s GET %s: %d, want %d with %q", c.who, c.path, code, c.status, c.has)
		}
		if c.who == "H9999's staff" && strings.Contains(body, "M-0001") && c.path != "/members/M-0001" {
			t.Errorf("%s GET %s: the page names S9925's member", c.who, c.path)
		}
	}
	// The action: a sponsor's POST is refused, even from the console's own origin.
	req, _ := http.NewRequest(http.MethodPost, base+"/operations/rejections/x/resubmit", nil)
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := s9925.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a sponsor's resubmit got %d, want 403", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/whatif", strings.NewReader("program=x"))
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = s9925.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a sponsor's what-if got %d, want 403", resp.StatusCode)
	}
}

// TestTheConsoleNeverWritesAMemberIdToItsLogsSpansOrMetrics: pages carry
// member ids; the console's logs, spans and metrics name routes only.
func TestTheConsoleNeverWritesAMemberIdToItsLogsSpansOrMetrics(t *testing.T) {
	f := start(t)
	var logs syncbuf.Buffer
	rec := tracetest.NewSpanRecorder()
	tel, err := otelx.Setup(context.Background(), "console", nil, otelx.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	c := console.Config{Services: f.st.Addrs, NATSURL: f.st.NATSURL, Addr: testkit.FreeAddr(t), MetricsAddr: testkit.FreeAddr(t),
		Plans: []planid.ID{plan}, JaegerURL: f.jaeger}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := console.Start(ctx, c, tel, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	for _, p := range []string{"/members/M-0001", "/claims/" + claimID, "/members/M-0404", "/claims/RX-404", "/members?member_id=M-0001"} {
		resp, err := http.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + c.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `route="GET /members/{member_id}"`) || !strings.Contains(string(metrics), "emtm_console_request_duration") {
		t.Fatalf("no request metric by route:\n%s", metrics)
	}
	var spans []string
	for _, sp := range rec.Ended() {
		spans = append(spans, sp.Name())
		for _, kv := range sp.Attributes() {
			spans = append(spans, string(kv.Key)+"="+kv.Value.String())
		}
	}
	if !strings.Contains(strings.Join(spans, " "), "console GET /members/{member_id}") {
		t.Fatalf("no span named by route: %v", spans)
	}
	for what, text := range map[string]string{"logs": logs.String(), "metrics": string(metrics), "spans": strings.Join(spans, "\n")} {
		for _, id := range []string{"M-0001", "M-0404", claimID, "RX-404"} {
			if strings.Contains(text, id) {
				t.Errorf("the console's %s name %s", what, id)
			}
		}
	}
}
