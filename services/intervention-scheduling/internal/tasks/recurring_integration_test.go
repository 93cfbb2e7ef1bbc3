package tasks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/adapters"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// tasksWithDue renders a member's tasks as KIND/period:STATUS:due.
func (f fixture) tasksWithDue(t *testing.T, member string) string {
	t.Helper()
	ts, err := f.s.List(context.Background(), tasks.Filter{Member: member})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range ts {
		out = append(out, enums.Name(x.Kind)+"/"+x.Period+":"+enums.Name(x.Status)+":"+civil.FromProto(x.DueDate).String())
	}
	sortStrings(out)
	return strings.Join(out, " ")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// moveClock moves the event clock (as any event dated then would) and sweeps.
func (f fixture) moveClock(t *testing.T, to *typesv1.Date) {
	t.Helper()
	ctx := context.Background()
	clk, _ := clock.New("events", time.UTC, f.env.Redis, "is:clock")
	if err := clk.Saw(ctx, civil.FromProto(to)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
}

// Issue 11 item 1: a member placed HIGH once gets every period's CMR and TMR
// when the period starts, by the scheduling clock, whatever the assessments
// do; each once, also after a restart and a replay.
func TestAMemberInTheProgramGetsEveryPeriodsTaskWhateverTheAssessmentsDo(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	placed := assessment("M1", "HIGH", date(2024, 1, 15))
	if err := f.s.OnAssessment(ctx, placed); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksWithDue(t, "M1"); got != "CMR/2024:SCHEDULED:2024-03-15 TMR/2024-Q1:SCHEDULED:2024-03-31" {
		t.Fatalf("on placement: %s (CMR within 60 days, the quarter's TMR)", got)
	}
	// The second quarter's TMR appears when the quarter starts, not before.
	f.moveClock(t, date(2024, 3, 31))
	if got := f.tasksWithDue(t, "M1"); strings.Contains(got, "2024-Q2") {
		t.Fatalf("on March 31: %s", got)
	}
	f.moveClock(t, date(2024, 4, 1))
	if got := f.tasksWithDue(t, "M1"); !strings.Contains(got, "TMR/2024-Q2:SCHEDULED:2024-06-30") {
		t.Fatalf("on April 1: %s", got)
	}
	// The clock jumps to 2025-03-31 (a backfill): every period in between, each once.
	f.moveClock(t, date(2025, 3, 31))
	want := "CMR/2024:EXPIRED:2024-03-15 CMR/2025:SCHEDULED:2025-03-02 TMR/2024-Q1:EXPIRED:2024-03-31 TMR/2024-Q2:EXPIRED:2024-06-30 " +
		"TMR/2024-Q3:EXPIRED:2024-09-30 TMR/2024-Q4:EXPIRED:2024-12-31 TMR/2025-Q1:SCHEDULED:2025-03-31"
	if got := f.tasksWithDue(t, "M1"); got != want {
		t.Fatalf("on 2025-03-31:\n%s\nwant\n%s", got, want)
	}
	f.idle(t)
	before := len(testkit.StreamMessages(t, f.env.JS, bus.StreamTasks))
	// A restart (a new scheduler on the same Redis) and a replay of the assessment change nothing.
	ps, _ := policy.Sample()
	tel, _ := otelx.Setup(ctx, "test", nil)
	clk, _ := clock.New("events", time.UTC, f.env.Redis, "is:clock")
	restarted := tasks.New(adapters.NewStore(f.env.Redis, 4), bus.NewPublisher(f.env.JS, tel, "scheduling"), ps, clk, 4, nil)
	for i := 0; i < 2; i++ {
		if err := restarted.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if err := restarted.OnAssessment(ctx, placed); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.tasksWithDue(t, "M1"); got != want {
		t.Fatalf("after a restart and a replay:\n%s", got)
	}
	f.idle(t)
	if after := len(testkit.StreamMessages(t, f.env.JS, bus.StreamTasks)); after != before {
		t.Fatalf("%d task events after the restart and replay, %d before", after, before)
	}
}

func enrollmentEnd(member string, end *typesv1.Date, reason enrollmentv1.EndReason) *enrollmentv1.Enrollment {
	return &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: "enrollment/" + member}, EnrollmentId: "E-" + member, MemberId: member,
		ContractId: "S9925", PbpId: "001", StartDate: date(2023, 1, 1), EndDate: end, EndReason: reason}
}

// Disenrollment or death on 2024-08-10 stops everything after it, whether the
// end arrives before the clock passes the later periods or after.
func TestDeathOrDisenrollmentStopsEverythingAfterIt(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	for _, m := range []string{"EARLY", "LATE"} {
		if err := f.s.OnAssessment(ctx, assessment(m, "HIGH", date(2024, 1, 15))); err != nil {
			t.Fatal(err)
		}
	}
	// EARLY: the death is known on August 12; LATE: only after the clock reached 2025.
	f.moveClock(t, date(2024, 8, 12))
	if err := f.s.OnEnrollment(ctx, enrollmentEnd("EARLY", date(2024, 8, 10), enrollmentv1.EndReason_END_REASON_DECEASED)); err != nil {
		t.Fatal(err)
	}
	f.moveClock(t, date(2025, 3, 31))
	if err := f.s.OnEnrollment(ctx, enrollmentEnd("LATE", date(2024, 8, 10), enrollmentv1.EndReason_END_REASON_DISENROLLED)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	early := f.tasksOf(t, "EARLY")
	// The CMR (open to the year's end) and the third quarter's TMR were open on August 10: cancelled.
	if want := "CMR/2024:CANCELLED:p90 TMR/2024-Q1:EXPIRED:p70 TMR/2024-Q2:EXPIRED:p70 TMR/2024-Q3:CANCELLED:p70"; early != want {
		t.Fatalf("EARLY: %s\nwant %s", early, want)
	}
	late := f.tasksOf(t, "LATE")
	// Q4 and 2025 were scheduled before the disenrollment was known, and the sweep expired 2024's
	// CMR and third-quarter TMR meanwhile: in event time all were open on August 10, so all are cancelled.
	if want := "CMR/2024:CANCELLED:p90 CMR/2025:CANCELLED:p90 TMR/2024-Q1:EXPIRED:p70 TMR/2024-Q2:EXPIRED:p70 TMR/2024-Q3:CANCELLED:p70 TMR/2024-Q4:CANCELLED:p70 TMR/2025-Q1:CANCELLED:p70"; late != want {
		t.Fatalf("LATE: %s\nwant %s", late, want)
	}
	q3, _ := f.s.List(ctx, tasks.Filter{Member: "EARLY", Kind: schedulingv1.TaskKind_TASK_KIND_TMR})
	for _, x := range q3 {
		if x.Period == "2024-Q3" && x.StatusReason != "deceased on 2024-08-10" {
			t.Fatalf("reason %q", x.StatusReason)
		}
	}
	// A later assessment of a member who has left schedules nothing.
	if err := f.s.OnAssessment(ctx, assessment("EARLY", "HIGH", date(2024, 9, 1))); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "EARLY"); got != early {
		t.Fatalf("after a late assessment: %s", got)
	}
}

// Issue 11 item 2: a member stays in the program to the year's end after a
// downgrade (on_downgrade: stay, the default), and leaves it at the year's end.
func TestADowngradeKeepsTheMemberInTheProgramToTheYearsEnd(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 1, 15))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnAssessment(ctx, assessment("M1", "LOW", date(2024, 3, 20))); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "M1"); got != "CMR/2024:SCHEDULED:p90 TMR/2024-Q1:SCHEDULED:p70" {
		t.Fatalf("after the downgrade: %s (the CMR and the TMR stay)", got)
	}
	f.moveClock(t, date(2025, 6, 30))
	if got := f.tasksOf(t, "M1"); got != "CMR/2024:EXPIRED:p90 TMR/2024-Q1:EXPIRED:p70 TMR/2024-Q2:EXPIRED:p70 TMR/2024-Q3:EXPIRED:p70 TMR/2024-Q4:EXPIRED:p70" {
		t.Fatalf("a year later: %s (in the program to December 31, out from January 1)", got)
	}
}

func offer(id, member string, on *typesv1.Date, outcome encountersv1.EncounterOutcome) *encountersv1.MtmEncounter {
	e := encounter(id, member, on, 0, 0, "314530002")
	e.Outcome = outcome
	return e
}

// Issue 11 item 2: the CMR offer and the member's answer are facts on the CMR,
// in either order of events; a decline closes it as declined.
func TestCMROffersAndAnswersAreRecordedOnTheCMR(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const (
		offered   = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_OFFERED
		declined  = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED
		unreached = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_UNABLE_TO_REACH
	)
	// A: not reached on Feb 1, offered on Feb 20, declined on Mar 1.
	must(f.s.OnAssessment(ctx, assessment("A", "HIGH", date(2024, 1, 15))))
	must(f.s.OnEncounter(ctx, offer("A1", "A", date(2024, 2, 1), unreached)))
	must(f.s.OnEncounter(ctx, offer("A2", "A", date(2024, 2, 20), offered)))
	must(f.s.OnEncounter(ctx, offer("A3", "A", date(2024, 3, 1), declined)))
	must(f.s.OnEncounter(ctx, offer("A3", "A", date(2024, 3, 1), declined))) // a redelivery
	// B: the decline arrives before the assessment that schedules the CMR.
	must(f.s.OnEncounter(ctx, offer("B1", "B", date(2024, 2, 10), declined)))
	must(f.s.OnAssessment(ctx, assessment("B", "HIGH", date(2024, 1, 20))))
	// C: declined, then reviewed after all: completed.
	must(f.s.OnAssessment(ctx, assessment("C", "HIGH", date(2024, 1, 15))))
	must(f.s.OnEncounter(ctx, offer("C1", "C", date(2024, 2, 1), declined)))
	must(f.s.OnEncounter(ctx, encounter("C2", "C", date(2024, 5, 2), 0, 0, "314530002")))
	// D: offered only on day 75.
	must(f.s.OnAssessment(ctx, assessment("D", "HIGH", date(2024, 1, 15))))
	must(f.s.OnEncounter(ctx, offer("D1", "D", date(2024, 3, 30), offered)))
	cmr := func(member string) *schedulingv1.InterventionTask {
		ts, _ := f.s.List(ctx, tasks.Filter{Member: member, Kind: schedulingv1.TaskKind_TASK_KIND_CMR})
		for _, x := range ts {
			if x.Period == "2024" {
				return x
			}
		}
		t.Fatalf("%s: no CMR of 2024 in %v", member, ts)
		return nil
	}
	a := cmr("A")
	if a.Status != schedulingv1.TaskStatus_TASK_STATUS_DECLINED || a.StatusReason != "declined on 2024-03-01 (encounter A3)" || len(a.Attempts) != 3 ||
		civil.FromProto(a.OfferedOn).String() != "2024-02-20" || a.Attempts[0].Outcome != unreached {
		t.Fatalf("A: %s %q attempts %v offered %v", a.Status, a.StatusReason, a.Attempts, civil.FromProto(a.OfferedOn))
	}
	if b := cmr("B"); b.Status != schedulingv1.TaskStatus_TASK_STATUS_DECLINED || len(b.Attempts) != 1 || civil.FromProto(b.OfferedOn).String() != "2024-02-10" {
		t.Fatalf("B: %+v", b)
	}
	if c := cmr("C"); c.Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || c.CompletedBy != "encounter/C2" || civil.FromProto(c.OfferedOn).String() != "2024-02-01" {
		t.Fatalf("C: %+v", c)
	}
	// A declined CMR is no missed one: the sweep does not expire it.
	f.moveClock(t, date(2025, 1, 10))
	if a := cmr("A"); a.Status != schedulingv1.TaskStatus_TASK_STATUS_DECLINED {
		t.Fatalf("A after the year: %s", a.Status)
	}
	ms, err := f.s.Measures(ctx, "S9925", "001", 2024)
	must(err)
	got := map[string]string{}
	for _, m := range ms {
		got[m.Name] = fmt.Sprintf("%d/%d", m.Numerator, m.Denominator)
	}
	// Offered within 60 days: A (Feb 20), B (Feb 10), C (Feb 1, the decline), not D (day 75). Completed: C only.
	if got["cmr_offered_within_60_days"] != "3/4" || got["cmr_completion_rate"] != "1/4" {
		t.Fatalf("measures %v", got)
	}
}

// wall is a wall clock the test sets: events do not move it.
type wall struct{ today civil.Date }

func (w *wall) Today(context.Context) (civil.Date, error) { return w.today, nil }
func (w *wall) Saw(context.Context, civil.Date) error     { return nil }
func (w *wall) Name() string                              { return "test wall clock" }

// By the wall clock the periods start on the calendar, whatever the events' dates.
func TestPeriodsStartByTheWallClockToo(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	ctx := context.Background()
	ps, _ := policy.Sample()
	tel, _ := otelx.Setup(ctx, "test", nil)
	w := &wall{today: civil.Date{Year: 2024, Month: 2, Day: 1}}
	s := tasks.New(adapters.NewStore(env.Redis, 4), bus.NewPublisher(env.JS, tel, "scheduling"), ps, w, 4, nil)
	if err := s.OnAssessment(ctx, assessment("W", "HIGH", date(2024, 1, 15))); err != nil {
		t.Fatal(err)
	}
	if err := s.OnEncounter(ctx, offer("W1", "W", date(2024, 9, 1), encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_OFFERED)); err != nil {
		t.Fatal(err) // an event dated September does not move the wall clock
	}
	list := func() string {
		ts, _ := s.List(ctx, tasks.Filter{Member: "W"})
		var out []string
		for _, x := range ts {
			out = append(out, enums.Name(x.Kind)+"/"+x.Period)
		}
		sortStrings(out)
		return strings.Join(out, " ")
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "CMR/2024 TMR/2024-Q1" {
		t.Fatalf("on February 1: %s", got)
	}
	w.today = civil.Date{Year: 2024, Month: 4, Day: 1}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "CMR/2024 TMR/2024-Q1 TMR/2024-Q2" {
		t.Fatalf("on April 1: %s", got)
	}
}

// An encounter completes one task of a kind, whichever was created first: a
// review on July 10 completes the second quarter's TMR (still in its window,
// due first), not also the third quarter's, created when the clock passes July 1.
func TestAnEncounterCompletesOneTaskOfAKindWhateverTheOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	for _, m := range []string{"A", "B"} {
		if err := f.s.OnAssessment(ctx, assessment(m, "MODERATE", date(2024, 5, 2))); err != nil {
			t.Fatal(err)
		}
	}
	// A: the review arrives while only Q2 exists; B: after the clock passed July 1.
	if err := f.s.OnEncounter(ctx, encounter("EA", "A", date(2024, 7, 10), 0, 0, "430193006")); err != nil {
		t.Fatal(err)
	}
	f.moveClock(t, date(2024, 7, 12))
	if err := f.s.OnEncounter(ctx, encounter("EB", "B", date(2024, 7, 10), 0, 0, "430193006")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"A", "B"} {
		if got := f.tasksOf(t, m); got != "TMR/2024-Q2:COMPLETED:p50 TMR/2024-Q3:SCHEDULED:p50" {
			t.Errorf("%s: %s", m, got)
		}
	}
}
