package booking_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/adapters"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ports"
)

const pharmacy = "1245319599"

type fixture struct {
	env *testkit.Env
	b   *booking.Booker
	pub *bus.Publisher
}

// setup books with the sample policy, its prospective payment running to
// lastMonth (YYYY-MM; the sample's own is 2021-12, the model's end; these
// tests book 2024).
func setup(t *testing.T, lastMonth ...string) fixture {
	t.Helper()
	env := testkit.Start(t)
	end := "2099-12"
	if len(lastMonth) > 0 {
		end = lastMonth[0]
	}
	ps, err := policy.Parse("payment.yaml", []byte(strings.Replace(policy.SampleYAML(), "last_month: 2021-12", "last_month: "+end, 1)))
	if err != nil {
		t.Fatal(err)
	}
	tel, _ := otelx.Setup(context.Background(), "test", nil)
	clk, _ := clock.New("events", time.UTC, env.Redis, adapters.ClockKey)
	pub := bus.NewPublisher(env.JS, tel, "payment")
	return fixture{env: env, pub: pub, b: booking.New(adapters.NewStore(env.Redis, 4), pub, ps, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func day(s string) *typesv1.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d.Proto()
}

func enrollment(version int, member, start, end string) *enrollmentv1.Enrollment {
	e := &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: fmt.Sprintf("enrollment/%s/v%d", member, version)}, EnrollmentId: "enr-" + member,
		MemberId: member, ContractId: "S9925", PbpId: "001", StartDate: day(start)}
	if end != "" {
		e.EndDate = day(end)
	}
	return e
}

func encounter(id, on string, codes ...string) *encountersv1.MtmEncounter {
	return &encountersv1.MtmEncounter{Meta: &typesv1.EventMeta{EventId: "encounter/" + id}, EncounterId: id, MemberId: "M1", ContractId: "S9925", PbpId: "001",
		ServiceDate: day(on), ServiceCodes: codes, PharmacistNpi: "1234567893", PharmacyNpi: pharmacy, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED}
}

// ids lists a kind's entry ids, sorted.
func (f fixture) ids(t *testing.T, kind ledgerv1.EntryKind) string {
	t.Helper()
	es, err := f.b.Entries(context.Background(), "", kind, 10000)
	must(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.EntryId)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestMemberMonthsFollowEnrollmentIncludingRetroactiveChanges(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	must(t, f.b.OnEnrollment(ctx, enrollment(1, "M1", "2024-01-01", "")))
	must(t, f.b.OnEnrollment(ctx, enrollment(1, "M2", "2024-01-15", "2024-12-31"))) // mid-month: from February
	// The payment clock moves with service dates: an encounter of 2024-03-15.
	must(t, f.b.OnEncounter(ctx, encounter("E1", "2024-03-15", "430193006")))
	r, err := f.b.Sweep(ctx)
	must(t, err)
	if r.Booked != 5 || r.Reversed != 0 {
		t.Fatalf("first sweep %+v: M1 Jan-Mar, M2 Feb-Mar", r)
	}
	if got := f.ids(t, ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE); got != "pp/S9925-001/M1/2024-01/1 pp/S9925-001/M1/2024-02/1 pp/S9925-001/M1/2024-03/1 pp/S9925-001/M2/2024-02/1 pp/S9925-001/M2/2024-03/1" {
		t.Fatalf("member months %s", got)
	}
	// A second sweep in the same month changes nothing.
	if r, _ := f.b.Sweep(ctx); r.Booked+r.Reversed != 0 {
		t.Fatalf("idle sweep %+v", r)
	}
	// Retroactive disenrollment of M1 at the end of January: February and March are reversed.
	must(t, f.b.OnEnrollment(ctx, enrollment(2, "M1", "2024-01-01", "2024-01-31")))
	if r, _ := f.b.Sweep(ctx); r.Booked != 0 || r.Reversed != 2 {
		t.Fatalf("retro sweep %+v", r)
	}
	// And reinstated through February: February is booked again, as a new generation.
	must(t, f.b.OnEnrollment(ctx, enrollment(3, "M1", "2024-01-01", "2024-02-29")))
	if r, _ := f.b.Sweep(ctx); r.Booked != 1 || r.Reversed != 0 {
		t.Fatalf("reinstatement sweep %+v", r)
	}
	if got := f.ids(t, ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT); got != "pp/S9925-001/M1/2024-02/1/rev pp/S9925-001/M1/2024-03/1/rev" {
		t.Fatalf("adjustments %s", got)
	}
	feb, err := f.b.MonthEntries(ctx, "S9925", "001", civil.Date{Year: 2024, Month: 2, Day: 1})
	must(t, err)
	var net int64
	for _, e := range feb {
		switch e.Kind {
		case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE:
			net += e.AmountCents
		case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT:
			net -= e.AmountCents
			if e.ReversesEntryId != "pp/S9925-001/M1/2024-02/1" || e.SourceEventId != "enrollment/M1/v2" {
				t.Errorf("adjustment %+v", e)
			}
		}
	}
	if net != 2*350 {
		t.Fatalf("February nets %d cents, want two member months", net)
	}
	// Months move with the clock: an April service date books April for M2 (M1 has left).
	must(t, f.b.OnEncounter(ctx, encounter("E2", "2024-04-02", "430193006")))
	if r, _ := f.b.Sweep(ctx); r.Booked != 1 {
		t.Fatalf("April sweep %+v", r)
	}
	tot, err := f.b.Totals(ctx)
	must(t, err)
	// Member months: M1 Jan, Feb; M2 Feb, Mar, Apr = 5 x $3.50.
	if tot.Balances["prospective_payment_receivable"] != 5*350 || tot.MemberMonths["S9925-001|2024"] != 5 {
		t.Fatalf("receivable %d, member months %v", tot.Balances["prospective_payment_receivable"], tot.MemberMonths)
	}
}

func TestFeesSuspenseAndOutcomeFeesAreBookedOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	e := encounter("E1", "2024-03-15", "430193006", "410620009", "430193006")
	// The crash window: the service published an entry, then died before applying it.
	if _, err := f.pub.Publish(ctx, bus.Out{Subject: bus.LedgerSubject("S9925"), MsgID: "le/E1/430193006",
		Msg: &ledgerv1.LedgerEntry{EntryId: "le/E1/430193006", AmountCents: 4000}}); err != nil {
		t.Fatal(err)
	}
	for range 3 { // and the encounter is delivered three times
		must(t, f.b.OnEncounter(ctx, e))
	}
	cmr := encounter("E2", "2024-03-20", "314530002")
	cmr.TaskId = "task/M1/CMR/2024"
	must(t, f.b.OnEncounter(ctx, cmr))
	notDone := encounter("E3", "2024-03-21", "314530002")
	notDone.Outcome = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED
	must(t, f.b.OnEncounter(ctx, notDone))
	// An accepted outreach item, its event delivered twice, then a later version of it.
	item := &outreachv1.OutreachItem{Meta: &typesv1.EventMeta{EventId: "out/x@3"}, ItemId: "out/x", ContractId: "S9925", PbpId: "001",
		Status: outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED, RespondedOn: day("2024-03-22"), RespondedPharmacyNpi: pharmacy}
	must(t, f.b.OnOutreach(ctx, item))
	must(t, f.b.OnOutreach(ctx, item))
	item.Meta.EventId = "out/x@4"
	must(t, f.b.OnOutreach(ctx, item))
	declined := &outreachv1.OutreachItem{Meta: &typesv1.EventMeta{EventId: "out/y@3"}, ItemId: "out/y", ContractId: "S9925", PbpId: "001",
		Status: outreachv1.OutreachStatus_OUTREACH_STATUS_DECLINED, RespondedOn: day("2024-03-22"), RespondedPharmacyNpi: pharmacy}
	must(t, f.b.OnOutreach(ctx, declined))

	tot, err := f.b.Totals(ctx)
	must(t, err)
	if tot.Entries != 4 || tot.Cents != 4000+7500+2500 || tot.ByKind["SUSPENSE"] != 1 || tot.ByKind["FEE"] != 3 ||
		tot.Balances["pharmacy_fees_payable:"+pharmacy] != -(4000+7500+2500) {
		t.Fatalf("totals %+v", tot)
	}
	// The stream holds each entry once: the one "published before the crash" is the same message.
	n := map[string]int{}
	for _, m := range testkit.StreamMessages(t, f.env.JS, bus.StreamLedger) {
		n[m.Header.Get("Nats-Msg-Id")]++
	}
	if len(n) != 4 || n["le/E1/430193006"] != 1 || n["sus/E1/410620009"] != 1 || n["le/E2/314530002"] != 1 || n["le/accepted/out/x"] != 1 {
		t.Fatalf("ledger stream %v", n)
	}
	sus, err := f.b.Entries(ctx, "", ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE, 10)
	must(t, err)
	if len(sus) != 1 || !strings.Contains(sus[0].Memo, "no fee rule") || sus[0].PharmacyNpi != pharmacy || sus[0].SourceEventId != "encounter/E1" {
		t.Fatalf("suspense %+v", sus)
	}
	cmrFee, err := f.b.Entries(ctx, "", ledgerv1.EntryKind_ENTRY_KIND_FEE, 10)
	must(t, err)
	for _, x := range cmrFee {
		if x.EntryId == "le/E2/314530002" && (x.Service != "CMR" || x.AmountCents != 7500 || x.Rule != "fee:CMR:2017-01-01") {
			t.Fatalf("CMR fee %+v", x)
		}
	}
}

// published puts an event on its stream (the record a rebuild replays) before it is handled.
func (f fixture) published(t *testing.T, subject, id string, m proto.Message) {
	t.Helper()
	if _, err := f.pub.Publish(context.Background(), bus.Out{Subject: subject, MsgID: id, Msg: m}); err != nil {
		t.Fatal(err)
	}
}

func TestClaimsWithoutAmountsLeaveSpendingUnknownNeverZero(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for i := range 10 {
		e := enrollment(1, fmt.Sprintf("M%d", i), "2019-01-01", "2019-12-31")
		must(t, f.b.OnEnrollment(ctx, e))
	}
	unpriced := &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/ab2d-1"}, SummaryId: "ab2d-1", MemberId: "M1",
		ServiceMonth: &typesv1.YearMonth{Year: 2019, Month: 12}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT,
		CostUnknown: true, ContractId: "S9925", PbpId: "001"}
	must(t, f.b.OnPartsAB(ctx, unpriced))
	must(t, f.b.OnPartsAB(ctx, unpriced)) // redelivered: counted once
	_, err := f.b.Sweep(ctx)
	must(t, err)
	r, es, err := f.b.SettlePerformance(ctx, "S9925", "001", 2019)
	must(t, err)
	steps := strings.Join(r.Steps, "\n")
	// $0 over 10 member-years would be 100 % below the benchmark: a payment for data that never came.
	if r.Qualifies || r.PaymentCents != 0 || len(es) != 0 || r.ABSummaries != 0 || r.ABUnpriced != 1 ||
		!strings.Contains(steps, "Spending unknown") || !strings.Contains(steps, "1 claims without an amount left out") {
		t.Fatalf("spending without amounts: %+v %v\n%s", r, es, steps)
	}
	priced := proto.Clone(unpriced).(*medicalv1.PartsAbSummary)
	priced.Meta.EventId, priced.SummaryId, priced.CostUnknown, priced.CostCents = "medical/bb-1", "bb-1", false, 12_740_000
	must(t, f.b.OnPartsAB(ctx, priced))
	if r, _, err = f.b.SettlePerformance(ctx, "S9925", "001", 2019); err != nil || r.ABSummaries != 1 || r.PerMemberYearCents != 1_274_000 || !r.Qualifies {
		t.Fatalf("one priced claim: %+v %v", r, err)
	}
}

func TestPerformanceSettlementAndRebuild(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	// Ten members enrolled all 2019: 120 member months.
	for i := range 10 {
		e := enrollment(1, fmt.Sprintf("M%d", i), "2019-01-01", "2019-12-31")
		f.published(t, bus.EnrollmentSubject(bus.Partition(e.MemberId, 4)), e.Meta.EventId, e)
		must(t, f.b.OnEnrollment(ctx, e))
	}
	ab := func(id string, cents int64) *medicalv1.PartsAbSummary {
		s := &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/" + id}, SummaryId: id, MemberId: "M1",
			ServiceMonth: &typesv1.YearMonth{Year: 2019, Month: 12}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, CostCents: cents, ContractId: "S9925", PbpId: "001"}
		f.published(t, bus.MedicalSubject(bus.Partition("M1", 4)), s.Meta.EventId, s)
		return s
	}
	// $127,400 over 10 member-years is $12,740, 2.00 % below the sample's 2019 benchmark of $13,000.
	must(t, f.b.OnPartsAB(ctx, ab("A1", 10_000_000)))
	must(t, f.b.OnPartsAB(ctx, ab("A2", 2_740_000)))
	must(t, f.b.OnPartsAB(ctx, ab("A2", 2_740_000))) // redelivered
	_, err := f.b.Sweep(ctx)
	must(t, err)
	r, es, err := f.b.SettlePerformance(ctx, "S9925", "001", 2019)
	must(t, err)
	if !r.Qualifies || r.MemberMonths != 120 || r.PerMemberYearCents != 1_274_000 || r.ReductionBP != 200 || r.PaymentCents != 24000 ||
		len(es) != 1 || es[0].EntryId != "perf/S9925-001/2019/1" || es[0].GetServiceMonth().GetYear() != 2021 {
		t.Fatalf("settlement %+v %v", r, es)
	}
	if _, es, _ := f.b.SettlePerformance(ctx, "S9925", "001", 2019); len(es) != 0 {
		t.Fatalf("settling the same result again booked %v", es)
	}
	// A late claim summary pushes spending over the line: the payment is reversed.
	must(t, f.b.OnPartsAB(ctx, ab("A3", 100)))
	r, es, err = f.b.SettlePerformance(ctx, "S9925", "001", 2019)
	must(t, err)
	if r.Qualifies || len(es) != 1 || es[0].ReversesEntryId != "perf/S9925-001/2019/1" || es[0].Kind != ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE_ADJUSTMENT {
		t.Fatalf("recalculation %+v %v", r, es)
	}
	must(t, f.b.OnEncounter(ctx, encounter("E1", "2019-06-01", "430193006", "410620009")))

	// Rebuild into a shadow of the ledger on the same Redis: equal to the cent, and nothing
	// outside the ledger's keys is read or changed; the shadow is gone afterwards.
	must(t, f.env.Redis.Set(ctx, "other:service:key", "kept", 0).Err())
	liveKeys, _ := f.env.Redis.Keys(ctx, "pr:*").Result()
	res, err := f.b.Rebuild(ctx, ports.Replay(f.env.JS), false)
	must(t, err)
	if len(res.Differences) != 0 || res.Replaced || res.Live.Entries != 124 || res.LedgerMessages != 124 || res.EnrollmentMessages != 10 || res.MedicalMessages != 3 {
		t.Fatalf("rebuild %+v", res)
	}
	if shadow, _ := f.env.Redis.Keys(ctx, "prrb:*").Result(); len(shadow) != 0 {
		t.Fatalf("the rebuild left %d shadow keys", len(shadow))
	}
	// A tampered live ledger is caught; replace repairs it, and only the ledger's keys change.
	balances, _ := f.env.Redis.Keys(ctx, "pr:*:balances").Result() // one per partition holding entries
	tampered := ""
	for _, k := range balances {
		if n, _ := f.env.Redis.HGet(ctx, k, "mtm_services_expense").Int64(); n != 0 {
			tampered = k
			break
		}
	}
	if tampered == "" {
		t.Fatalf("no partition's balances hold mtm_services_expense (keys %v)", balances)
	}
	must(t, f.env.Redis.HIncrBy(ctx, tampered, "mtm_services_expense", 1).Err())
	res, err = f.b.Rebuild(ctx, ports.Replay(f.env.JS), false)
	must(t, err)
	if len(res.Differences) != 1 || !strings.Contains(res.Differences[0], "balance mtm_services_expense: live 4001, rebuilt 4000") {
		t.Fatalf("differences %v", res.Differences)
	}
	res, err = f.b.Rebuild(ctx, ports.Replay(f.env.JS), true)
	must(t, err)
	if !res.Replaced {
		t.Fatalf("not replaced: %+v", res)
	}
	res, err = f.b.Rebuild(ctx, ports.Replay(f.env.JS), false)
	must(t, err)
	if len(res.Differences) != 0 {
		t.Fatalf("after replace: %v", res.Differences)
	}
	if v, _ := f.env.Redis.Get(ctx, "other:service:key").Result(); v != "kept" {
		t.Fatalf("a key outside the ledger changed: %q", v)
	}
	if after, _ := f.env.Redis.Keys(ctx, "pr:*").Result(); len(after) != len(liveKeys) {
		sort.Strings(after)
		sort.Strings(liveKeys)
		t.Fatalf("%d ledger keys after replace, %d before:\n%v\n%v", len(after), len(liveKeys), after, liveKeys)
	}
}

// Issue 11 item 6: member months after the prospective payment's last month
// book nothing, and the month's statement says why and how many.
func TestMemberMonthsAfterTheLastMonthBookNothingAndTheStatementSaysWhy(t *testing.T) {
	t.Parallel()
	f := setup(t, "2024-02")
	ctx := context.Background()
	must(t, f.b.OnEnrollment(ctx, enrollment(1, "M1", "2024-01-01", "")))
	must(t, f.b.OnEnrollment(ctx, enrollment(1, "M2", "2024-02-01", "")))
	must(t, f.b.OnEncounter(ctx, encounter("E1", "2024-03-15", "314530002")))
	if _, err := f.b.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.ids(t, ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE); strings.Count(got, "pp/") != 3 || strings.Contains(got, "2024-03") {
		t.Fatalf("prospective entries %q: want M1 January and February, M2 February", got)
	}
	march, err := f.b.Statement(ctx, "S9925", "001", &typesv1.YearMonth{Year: 2024, Month: 3})
	must(t, err)
	want := "no prospective payment for 2024-03: the plan's prospective payment runs 2017-01 to 2024-02 (payment policy: prospective.pmpm and prospective.last_month); 2 member month(s) enrolled that month are not paid"
	if march.ProspectiveCents != 0 || len(march.Notes) != 1 || march.Notes[0] != want {
		t.Fatalf("March: %d cents, notes %q", march.ProspectiveCents, march.Notes)
	}
	feb, err := f.b.Statement(ctx, "S9925", "001", &typesv1.YearMonth{Year: 2024, Month: 2})
	must(t, err)
	if feb.ProspectiveCents != 700 || len(feb.Notes) != 0 {
		t.Fatalf("February: %d cents, notes %q", feb.ProspectiveCents, feb.Notes)
	}
}
