package outreach_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/adapters"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/policy"
)

// Two prescribers (valid NPIs).
const (
	drA = "1234567893"
	drB = "1245319599"
)

type fixture struct {
	env *testkit.Env
	o   *outreach.Outreach
}

// setup runs Outreach on the given clock with the sample policy, changed by edit.
func setup(t *testing.T, clk string, edit func(string) string) fixture {
	t.Helper()
	env := testkit.Start(t)
	text := policy.SampleYAML()
	if edit != nil {
		text = edit(text)
	}
	ps, err := policy.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tel, _ := otelx.Setup(context.Background(), "test", nil)
	c, err := clock.New(clk, time.UTC, env.Redis, adapters.ClockKey)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := pseudonym.New("")
	return fixture{env: env, o: outreach.New(adapters.NewStore(env.Redis, 4), bus.NewPublisher(env.JS, tel, "outreach"), ps, c, 4, h)}
}

func day(s string) civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

var seq atomic.Int64 // tests run in parallel

// assessment finds problems ("BEERS:glyburide@drA") for a member on a date.
func assessment(member, on string, problems ...string) *riskv1.RiskAssessment {
	n := seq.Add(1)
	a := &riskv1.RiskAssessment{Meta: &typesv1.EventMeta{EventId: fmt.Sprintf("asmt/%d", n)}, AssessmentId: fmt.Sprintf("asmt/%d", n),
		MemberId: member, ContractId: "S9925", PbpId: "001", AsOf: day(on).Proto()}
	for _, p := range problems {
		key, npis, _ := strings.Cut(p, "@")
		code, _, _ := strings.Cut(key, ":")
		a.Problems = append(a.Problems, &riskv1.DrugTherapyProblem{Code: code, Key: key, Description: "found " + key,
			Recommendation: "act on " + key, ClaimIds: []string{"C-" + member}, PrescriberNpis: strings.Split(npis, ","), Source: "test rule 2024"})
	}
	return a
}

func (f fixture) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f fixture) sweep(t *testing.T) outreach.SweepResult {
	t.Helper()
	r, err := f.o.Sweep(context.Background())
	f.must(t, err)
	return r
}

// items lists a prescriber's items as "member/key:STATUS[:comm period]", sorted.
func (f fixture) items(t *testing.T, npi string) string {
	t.Helper()
	its, err := f.o.ByPrescriber(context.Background(), npi, 100)
	f.must(t, err)
	var out []string
	for _, it := range its {
		s := fmt.Sprintf("%s/%s:%s", it.MemberId, it.ProblemKey, enums.Name(it.Status))
		if it.CommunicationId != "" {
			parts := strings.Split(it.CommunicationId, "/")
			s += ":" + parts[3] + "#" + parts[4]
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestBatchingRateLimitAndRepeatWindow(t *testing.T) {
	t.Parallel()
	// At most two problems per letter and one letter per week: the rest waits.
	f := setup(t, "events", func(s string) string {
		return strings.Replace(s, "max_items_per_communication: 25", "max_items_per_communication: 2", 1)
	})
	ctx := context.Background()
	// Monday 2024-02-12 (week 7): four problems for drA, one for drB.
	f.must(t, f.o.OnAssessment(ctx, assessment("M1", "2024-02-12", "BEERS:glyburide@"+drA, "NONADH:STATIN@"+drA+","+drB)))
	f.must(t, f.o.OnAssessment(ctx, assessment("M2", "2024-02-13", "BEERS:doxepin@"+drA)))
	f.must(t, f.o.OnAssessment(ctx, assessment("M3", "2024-02-14", "COB@"+drA)))
	// The week has not ended: nothing goes out.
	if r := f.sweep(t); r.Communications != 0 || r.Today != day("2024-02-14") {
		t.Fatalf("mid-week sweep %+v", r)
	}
	// Week 8 begins (the event clock moves with any assessment).
	f.must(t, f.o.OnAssessment(ctx, assessment("M4", "2024-02-20")))
	if r := f.sweep(t); r.Communications != 2 {
		t.Fatalf("week 8: %d letters, want one each for drA and drB", r.Communications)
	}
	if got, want := f.items(t, drA), "M1/BEERS:glyburide:SENT:2024-W08#1 M1/NONADH:STATIN:SENT:2024-W08#1 M2/BEERS:doxepin:PENDING M3/COB:PENDING"; got != want {
		t.Fatalf("drA after week 8:\n got %s\nwant %s", got, want)
	}
	// A second sweep in the same week respects the rate limit.
	if r := f.sweep(t); r.Communications != 0 {
		t.Fatalf("second sweep in week 8 built %d letters", r.Communications)
	}
	f.must(t, f.o.OnAssessment(ctx, assessment("M4", "2024-02-27")))
	if r := f.sweep(t); r.Communications != 1 {
		t.Fatalf("week 9: %d letters", r.Communications)
	}
	if got, want := f.items(t, drA), "M1/BEERS:glyburide:SENT:2024-W08#1 M1/NONADH:STATIN:SENT:2024-W08#1 M2/BEERS:doxepin:SENT:2024-W09#1 M3/COB:SENT:2024-W09#1"; got != want {
		t.Fatalf("drA after week 9:\n got %s\nwant %s", got, want)
	}
	if got := f.items(t, drB); got != "M1/NONADH:STATIN:SENT:2024-W08#1" {
		t.Fatalf("drB: %s", got)
	}

	// The same problem again within 180 days: not raised; a redelivered assessment changes nothing.
	again := assessment("M1", "2024-03-01", "BEERS:glyburide@"+drA)
	f.must(t, f.o.OnAssessment(ctx, again))
	f.must(t, f.o.OnAssessment(ctx, again))
	c, err := f.o.Counts(ctx, "")
	f.must(t, err)
	if c.Items != 5 || c.Suppressed != 1 || c.Comms != 3 {
		t.Fatalf("counts %+v: 5 items, 1 suppressed (counted once), 3 letters", c)
	}
	// After the window it is raised again.
	f.must(t, f.o.OnAssessment(ctx, assessment("M1", "2024-08-12", "BEERS:glyburide@"+drA)))
	if got := f.items(t, drA); !strings.Contains(got, "M1/BEERS:glyburide:PENDING") {
		t.Fatalf("after the window: %s", got)
	}

	// The letters are on the bus, per prescriber, once each; every item change is an event.
	comms := map[string]int{}
	var drALetters []*outreachv1.Communication
	for _, m := range testkit.StreamMessages(t, f.env.JS, bus.StreamOutreach) {
		if strings.HasPrefix(m.Subject, "emtm.outreach.communications.") {
			comms[m.Subject]++
		}
	}
	if comms["emtm.outreach.communications."+drA] != 2 || comms["emtm.outreach.communications."+drB] != 1 {
		t.Fatalf("communications on the bus %v", comms)
	}
	drALetters, err = f.o.Communications(ctx, drA, 10)
	f.must(t, err)
	if len(drALetters) != 2 || drALetters[0].Period != "2024-W09" || civil.FromProto(drALetters[0].CreatedOn) != day("2024-02-26") ||
		len(drALetters[0].Items) != 2 || !strings.Contains(drALetters[0].Text, "by 2024-03-27") || !strings.Contains(drALetters[0].Html, "<form>") {
		t.Fatalf("drA's newest letter: %+v", drALetters[0])
	}
}

func TestResponsesViaAPIAndEncounterAndNoResponse(t *testing.T) {
	t.Parallel()
	f := setup(t, "events", nil)
	ctx := context.Background()
	f.must(t, f.o.OnAssessment(ctx, assessment("M1", "2024-02-12", "BEERS:glyburide@"+drA, "NONADH:STATIN@"+drA)))
	f.must(t, f.o.OnAssessment(ctx, assessment("M2", "2024-02-13", "COB@"+drA)))
	f.must(t, f.o.OnAssessment(ctx, assessment("M3", "2024-02-20")))
	if r := f.sweep(t); r.Communications != 1 {
		t.Fatalf("%d letters", r.Communications)
	}
	id := func(member, key string) string {
		return outreach.ItemID(drA, member, key, map[string]civil.Date{"M1": day("2024-02-12"), "M2": day("2024-02-13")}[member])
	}
	// The pharmacist learns in an encounter that drA accepted the BEERS change; the
	// encounter also carries an answer about a problem never raised.
	enc := &encountersv1.MtmEncounter{EncounterId: "enc/1", MemberId: "M1", ServiceDate: day("2024-03-01").Proto(), PharmacyNpi: drB,
		PrescriberResponses: []*encountersv1.PrescriberResponse{
			{PrescriberNpi: drA, ProblemKey: "BEERS:glyburide", Accepted: true, Note: "switched to glipizide"},
			{PrescriberNpi: drA, ProblemKey: "SUPD", Accepted: true},
		}}
	f.must(t, f.o.OnEncounter(ctx, enc))
	f.must(t, f.o.OnEncounter(ctx, enc)) // redelivered: nothing changes
	it, err := f.o.Item(ctx, id("M1", "BEERS:glyburide"))
	f.must(t, err)
	if it.Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED || civil.FromProto(it.RespondedOn) != day("2024-03-01") ||
		it.RespondedBy != "encounter enc/1" || it.ResponseNote != "switched to glipizide" || it.Version != 3 || it.RespondedPharmacyNpi != drB {
		t.Fatalf("after the encounter: %+v", it)
	}
	// The API: a decline; the same decline again is one answer; a contradicting answer is refused.
	d1, err := f.o.Respond(ctx, id("M1", "NONADH:STATIN"), outreach.Declined, day("2024-03-02"), "patient prefers", "api", "")
	f.must(t, err)
	d2, err := f.o.Respond(ctx, id("M1", "NONADH:STATIN"), outreach.Declined, day("2024-03-03"), "", "api", "")
	f.must(t, err)
	if d1.Version != d2.Version || civil.FromProto(d2.RespondedOn) != day("2024-03-02") {
		t.Fatalf("a repeated answer changed the item: v%d then v%d, answered %v", d1.Version, d2.Version, d2.RespondedOn)
	}
	var na outreach.NotAllowedError
	if _, err := f.o.Respond(ctx, id("M1", "NONADH:STATIN"), outreach.Accepted, civil.Date{}, "", "api", ""); !errors.As(err, &na) ||
		na.Reason != "the item was already answered DECLINED on 2024-03-02" {
		t.Fatalf("contradicting answer: %v", err)
	}
	if _, err := f.o.Respond(ctx, "out/none", outreach.Accepted, civil.Date{}, "", "api", ""); !errors.Is(err, outreach.ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
	if _, err := f.o.Respond(ctx, id("M2", "COB"), outreach.Accepted, day("2024-01-01"), "", "api", ""); !errors.As(err, &na) {
		t.Fatalf("an answer before the problem was raised: %v", err)
	}
	// The letter was dated 2024-02-19 with 30 days to answer: on 2024-03-20 COB is still within the deadline, on 2024-03-21 it is not.
	f.must(t, f.o.OnAssessment(ctx, assessment("M3", "2024-03-20")))
	if r := f.sweep(t); r.NoResponse != 0 {
		t.Fatalf("on the deadline: %d marked", r.NoResponse)
	}
	f.must(t, f.o.OnAssessment(ctx, assessment("M3", "2024-03-21")))
	if r := f.sweep(t); r.NoResponse != 1 {
		t.Fatalf("after the deadline: %d marked", r.NoResponse)
	}
	if got := f.items(t, drA); got != "M1/BEERS:glyburide:ACCEPTED:2024-W08#1 M1/NONADH:STATIN:DECLINED:2024-W08#1 M2/COB:NO_RESPONSE:2024-W08#1" {
		t.Fatalf("items %s", got)
	}
	c, err := f.o.Counts(ctx, "")
	f.must(t, err)
	if got := c.ByNPI[drA]; got[outreach.Accepted] != 1 || got[outreach.Declined] != 1 || got[outreach.NoResponse] != 1 || got[outreach.Pending] != 0 || got[outreach.Sent] != 0 {
		t.Fatalf("drA counts %v", got)
	}
	if c.ByCode["BEERS"][outreach.Accepted] != 1 || c.ByCode["COB"][outreach.NoResponse] != 1 || c.Unmatched != 1 {
		t.Fatalf("by code %v, unmatched %d", c.ByCode, c.Unmatched)
	}
	// Every item is the plan's: its own counters, kept through every move, are the same.
	pc, err := f.o.Counts(ctx, "S9925-001")
	f.must(t, err)
	if fmt.Sprint(pc.ByNPI) != fmt.Sprint(c.ByNPI) || fmt.Sprint(pc.ByCode) != fmt.Sprint(c.ByCode) || fmt.Sprint(pc.ByProblem) != fmt.Sprint(c.ByProblem) ||
		pc.Items != c.Items || pc.Comms != c.Comms || pc.Items == 0 {
		t.Fatalf("the plan's counts %+v differ from every plan's %+v", pc, c)
	}
	if none, err := f.o.Counts(ctx, "H1234-001"); err != nil || none.Items != 0 || len(none.ByNPI) != 0 {
		t.Fatalf("another plan counts %+v %v", none, err)
	}
	// A late answer still counts.
	late, err := f.o.Respond(ctx, id("M2", "COB"), outreach.Accepted, day("2024-04-02"), "tapering", "api", "")
	f.must(t, err)
	if late.Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED {
		t.Fatalf("late answer: %v", late.Status)
	}
	// Every version of every item is on the bus exactly once.
	seen := map[string]int{}
	for _, m := range testkit.StreamMessages(t, f.env.JS, bus.StreamOutreach) {
		if strings.HasPrefix(m.Subject, "emtm.outreach.p") {
			seen[m.Header.Get("Nats-Msg-Id")]++
		}
	}
	for _, want := range []string{id("M1", "BEERS:glyburide") + "@1", id("M1", "BEERS:glyburide") + "@2", id("M1", "BEERS:glyburide") + "@3",
		id("M2", "COB") + "@3", id("M2", "COB") + "@4"} {
		if seen[want] != 1 {
			t.Errorf("event %s published %d times", want, seen[want])
		}
	}
	if len(seen) != 10 {
		t.Errorf("%d item events, want 10 (3 raised, 3 sent, 2 answered, 1 no response, 1 late answer): %v", len(seen), seen)
	}
}

func TestStillPendingIsSupersededAfterTheWindow(t *testing.T) {
	t.Parallel()
	f := setup(t, "events", nil)
	ctx := context.Background()
	f.must(t, f.o.OnAssessment(ctx, assessment("M1", "2024-01-10", "NONADH:RASA@"+drA)))
	f.must(t, f.o.OnAssessment(ctx, assessment("M1", "2024-08-01", "NONADH:RASA@"+drA)))
	if got := f.items(t, drA); got != "M1/NONADH:RASA:PENDING M1/NONADH:RASA:SUPERSEDED" {
		t.Fatalf("items %s", got)
	}
	old := outreach.ItemID(drA, "M1", "NONADH:RASA", day("2024-01-10"))
	it, err := f.o.Item(ctx, old)
	f.must(t, err)
	if it.SupersededBy != outreach.ItemID(drA, "M1", "NONADH:RASA", day("2024-08-01")) {
		t.Fatalf("superseded by %q", it.SupersededBy)
	}
	var na outreach.NotAllowedError
	if _, err := f.o.Respond(ctx, old, outreach.Accepted, civil.Date{}, "", "api", ""); !errors.As(err, &na) || !strings.Contains(na.Reason, "superseded") {
		t.Fatalf("answer to a superseded item: %v", err)
	}
	// Only the newer item goes out.
	f.must(t, f.o.OnAssessment(ctx, assessment("M2", "2024-08-06")))
	if r := f.sweep(t); r.Communications != 1 {
		t.Fatalf("%d letters", r.Communications)
	}
	cs, err := f.o.Communications(ctx, drA, 5)
	f.must(t, err)
	if len(cs) != 1 || len(cs[0].Items) != 1 || cs[0].Items[0].ItemId == old {
		t.Fatalf("letter %v", cs)
	}
}

func TestReplayCatchesUpPerPeriodButWallClockSendsOneLetterNow(t *testing.T) {
	t.Parallel()
	raise := func(f fixture) {
		// One problem per week for ten weeks, for one prescriber.
		for w := range 10 {
			on := day("2024-01-01").AddDays(7 * w)
			f.must(t, f.o.OnAssessment(context.Background(), assessment(fmt.Sprintf("M%d", w), on.String(), "COB@"+drA)))
		}
	}
	replay := setup(t, "events", nil)
	raise(replay)
	f := replay
	f.must(t, f.o.OnAssessment(context.Background(), assessment("MX", "2024-06-03")))
	if r := f.sweep(t); r.Communications != 10 {
		t.Fatalf("event clock: %d letters, want one per week as if live", r.Communications)
	}
	cs, err := f.o.Communications(context.Background(), drA, 20)
	f.must(t, err)
	if civil.FromProto(cs[len(cs)-1].CreatedOn) != day("2024-01-08") || cs[len(cs)-1].Period != "2024-W02" {
		t.Fatalf("first letter %s %s", civil.FromProto(cs[len(cs)-1].CreatedOn), cs[len(cs)-1].Period)
	}

	wall := setup(t, "wall", nil)
	raise(wall)
	r := wall.sweep(t)
	if r.Communications != 1 || r.Today != civil.Today(time.UTC) {
		t.Fatalf("wall clock: %+v, want one letter dated today", r)
	}
	cs, err = wall.o.Communications(context.Background(), drA, 5)
	f.must(t, err)
	if len(cs) != 1 || len(cs[0].Items) != 10 || civil.FromProto(cs[0].CreatedOn) != civil.Today(time.UTC) {
		t.Fatalf("wall clock letter: %d letters", len(cs))
	}
}
