package tasks_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/adapters"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

type fixture struct {
	env   *testkit.Env
	s     *tasks.Scheduler
	store *adapters.Store
}

// setup runs a Scheduler on the event clock with the sample program, changed by edit.
func setup(t *testing.T, edit func(string) string) fixture {
	t.Helper()
	env := testkit.Start(t)
	ps, err := policy.Sample()
	if edit != nil {
		ps, err = policy.Parse("test.yaml", []byte(edit(policy.SampleYAML())))
	}
	if err != nil {
		t.Fatal(err)
	}
	tel, _ := otelx.Setup(context.Background(), "test", nil)
	store := adapters.NewStore(env.Redis, 4)
	clk, _ := clock.New("events", time.UTC, env.Redis, "is:clock")
	return fixture{env: env, store: store, s: tasks.New(store, bus.NewPublisher(env.JS, tel, "scheduling"), ps, clk, 4, nil)}
}

func date(y, m, d int) *typesv1.Date {
	return &typesv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

var seq atomic.Int64 // tests run in parallel

func assessment(member, tier string, on *typesv1.Date, problems ...string) *riskv1.RiskAssessment {
	n := seq.Add(1)
	a := &riskv1.RiskAssessment{Meta: &typesv1.EventMeta{EventId: fmt.Sprintf("asmt/%d", n)}, AssessmentId: fmt.Sprintf("asmt/%d", n),
		MemberId: member, ContractId: "S9925", PbpId: "001", AsOf: on, Tier: enums.Of[riskv1.RiskTier](tier)}
	for _, p := range problems {
		code, _, _ := strings.Cut(p, ":")
		a.Problems = append(a.Problems, &riskv1.DrugTherapyProblem{Code: code, Key: p})
	}
	return a
}

func (f fixture) tasksOf(t *testing.T, member string) string {
	t.Helper()
	ts, err := f.s.List(context.Background(), tasks.Filter{Member: member})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range ts {
		out = append(out, fmt.Sprintf("%s/%s:%s:p%d", enums.Name(x.Kind), x.Period, enums.Name(x.Status), x.Priority))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestTierChangesUpgradeOrCancelInsteadOfDuplicating(t *testing.T) {
	t.Parallel()
	// on_downgrade: leave (the stay default is TestADowngradeKeepsTheMemberInTheProgramToTheYearsEnd).
	f := setup(t, func(s string) string { return strings.Replace(s, "on_downgrade: stay", "on_downgrade: leave", 1) })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.s.OnAssessment(ctx, assessment("M1", "MODERATE", date(2024, 2, 10))))
	if got := f.tasksOf(t, "M1"); got != "TMR/2024-Q1:SCHEDULED:p50" {
		t.Fatalf("MODERATE: %s", got)
	}
	// The same assessment again and a later one in the same quarter: still one TMR.
	must(f.s.OnAssessment(ctx, assessment("M1", "MODERATE", date(2024, 2, 20))))
	// HIGH: the TMR is upgraded (priority 70), a CMR is added.
	must(f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 3, 1), "NONADH:STATIN")))
	if got := f.tasksOf(t, "M1"); got != "ADHERENCE_OUTREACH/2024-03:SCHEDULED:p60 CMR/2024:SCHEDULED:p90 TMR/2024-Q1:SCHEDULED:p70" {
		t.Fatalf("HIGH: %s", got)
	}
	// LOW, adherent again: the CMR and TMR leave the program, adherence outreach is no longer needed.
	must(f.s.OnAssessment(ctx, assessment("M1", "LOW", date(2024, 3, 15))))
	if got := f.tasksOf(t, "M1"); got != "ADHERENCE_OUTREACH/2024-03:CANCELLED:p60 CMR/2024:CANCELLED:p90 TMR/2024-Q1:CANCELLED:p70" {
		t.Fatalf("LOW: %s", got)
	}
	cmr, _ := f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_CMR})
	if !strings.Contains(cmr[0].StatusReason, "tier LOW on 2024-03-15 does not call for CMR") {
		t.Fatalf("reason %q", cmr[0].StatusReason)
	}
	// Every change is an event with its own version on EMTM_TASKS.
	f.idle(t)
	events := testkit.Decode(t, f.env.JS, bus.StreamTasks, func() *schedulingv1.InterventionTask { return &schedulingv1.InterventionTask{} })
	ids := map[string]bool{}
	for _, e := range events {
		ids[e.Meta.EventId] = true
	}
	// TMR: created, upgraded, cancelled; CMR: created, cancelled; adherence: created, cancelled.
	if len(events) != 7 || len(ids) != 7 {
		t.Fatalf("%d task events (%d distinct), want 7", len(events), len(ids))
	}
}

func (f fixture) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, f.env.JS, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseCompleteReleaseAndLeaseExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 2, 10))); err != nil {
		t.Fatal(err)
	}
	got, queued, err := f.s.Lease(ctx, "alice", "S9925", "001", 1, nil)
	if err != nil || len(got) != 1 || queued != 1 {
		t.Fatalf("lease: %v queued %d %v", got, queued, err)
	}
	cmr := got[0] // the highest priority first: the CMR (90) before the TMR (70)
	if cmr.Kind != schedulingv1.TaskKind_TASK_KIND_CMR || cmr.Status != schedulingv1.TaskStatus_TASK_STATUS_LEASED || cmr.LeaseWorker != "alice" || cmr.LeaseExpiresAt == nil {
		t.Fatalf("leased %+v", cmr)
	}
	if _, err := f.s.Complete(ctx, cmr.TaskId, "bob", civil.Date{}, ""); err == nil || !strings.Contains(err.Error(), "another worker") {
		t.Fatalf("bob completed alice's task: %v", err)
	}
	if _, err := f.s.Release(ctx, cmr.TaskId, "alice"); err != nil {
		t.Fatal(err)
	}
	got, _, _ = f.s.Lease(ctx, "bob", "S9925", "001", 5, nil)
	if len(got) != 2 {
		t.Fatalf("after release bob leased %d", len(got))
	}
	done, err := f.s.Complete(ctx, cmr.TaskId, "bob", civil.Date{Year: 2024, Month: 3, Day: 1}, "reviewed")
	if err != nil || done.Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || done.CompletedBy != "api:bob" || done.CompletedOn.Day != 1 {
		t.Fatalf("complete: %+v %v", done, err)
	}
	if _, err := f.s.Complete(ctx, cmr.TaskId, "bob", civil.Date{}, ""); err == nil {
		t.Fatal("a completed task was completed again")
	}
	// A lease that ends without completion returns the task to the queue.
	tmr := got[0]
	if tmr.TaskId == cmr.TaskId {
		tmr = got[1]
	}
	// Its lease ends a minute ago: in the index of leases of its member's partition.
	leased, _ := f.env.Redis.Keys(ctx, "is:*:leased").Result()
	moved := false
	for _, k := range leased {
		if _, err := f.env.Redis.ZScore(ctx, k, tmr.TaskId).Result(); err == nil {
			if err := f.env.Redis.ZAdd(ctx, k, redis.Z{Score: float64(time.Now().Add(-time.Minute).UnixMilli()), Member: tmr.TaskId}).Err(); err != nil {
				t.Fatal(err)
			}
			moved = true
		}
	}
	if !moved {
		t.Fatalf("the leased task is in no index of leases (%v)", leased)
	}
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	back, _ := f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_TMR})
	if back[0].Status != schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED || back[0].StatusReason != "lease expired" || back[0].LeaseWorker != "" {
		t.Fatalf("after the lease expired: %+v", back[0])
	}
}

func TestCapacityOverflowWaitsInPriorityOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, func(s string) string { return strings.Replace(s, "TMR: 150,", "TMR: 3,", 1) })
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		tier := "MODERATE"
		if i%2 == 0 {
			tier = "HIGH" // TMR priority 70 beats 50
		}
		if err := f.s.OnAssessment(ctx, assessment(fmt.Sprintf("M%d", i), tier, date(2024, 2, 10+i))); err != nil {
			t.Fatal(err)
		}
	}
	got, queued, err := f.s.Lease(ctx, "w", "S9925", "001", 50, []string{"TMR"})
	if err != nil {
		t.Fatal(err)
	}
	var prios []int32
	for _, x := range got {
		prios = append(prios, x.Priority)
	}
	// Three TMRs this week (the capacity), the HIGH ones first; two wait, and so do the three CMRs (not asked for).
	if len(got) != 3 || prios[0] != 70 || prios[1] != 70 || prios[2] != 70 || queued != 5 {
		t.Fatalf("leased priorities %v, queued %d", prios, queued)
	}
	if more, _, _ := f.s.Lease(ctx, "w", "S9925", "001", 50, []string{"TMR"}); len(more) != 0 {
		t.Fatalf("leased %d over the week's capacity", len(more))
	}
	waiting, _ := f.s.List(ctx, tasks.Filter{Contract: "S9925", PBP: "001", Kind: schedulingv1.TaskKind_TASK_KIND_TMR, Status: schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED})
	if len(waiting) != 2 {
		t.Fatalf("%d TMRs waiting, want 2 (never dropped)", len(waiting))
	}
}

// Many workers leasing at once never get the same task.
func TestConcurrentLeasesNeverShareATask(t *testing.T) {
	t.Parallel()
	f := setup(t, func(s string) string {
		return strings.Replace(s, "weekly_capacity: {CMR: 40, TMR: 150, ADHERENCE_OUTREACH: 300, POST_DISCHARGE: 60, FOLLOW_UP: 100, CMR_SUMMARY: 60}", "weekly_capacity: {}", 1)
	})
	ctx := context.Background()
	const members = 300 // HIGH: a CMR and a TMR each
	for i := 0; i < members; i++ {
		if err := f.s.OnAssessment(ctx, assessment(fmt.Sprintf("M%03d", i), "HIGH", date(2024, 2, 10))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var dup []string
	var wg sync.WaitGroup
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("worker-%d", w)
			for round := 0; round < 100; round++ {
				got, _, err := f.s.Lease(ctx, worker, "S9925", "001", 3, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, x := range got {
					if prev, ok := seen[x.TaskId]; ok {
						dup = append(dup, x.TaskId+" to "+prev+" and "+worker)
					}
					seen[x.TaskId] = worker
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(dup) > 0 || len(seen) != 2*members {
		t.Fatalf("%d tasks leased of %d; leased twice: %v", len(seen), 2*members, dup)
	}
}

func encounter(id, member string, on *typesv1.Date, found, resolved int32, codes ...string) *encountersv1.MtmEncounter {
	return &encountersv1.MtmEncounter{Meta: &typesv1.EventMeta{EventId: "encounter/" + id}, EncounterId: id, MemberId: member, ContractId: "S9925", PbpId: "001",
		ServiceDate: on, ServiceCodes: codes, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED, ProblemsFound: found, ProblemsResolved: resolved}
}

func TestEncountersCompleteTasksInEitherOrderAndLeaveFollowUps(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	// The task first, then the encounter: a medication review completes the CMR
	// and, with a problem left, schedules a follow-up 30 days later.
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 2, 10))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnEncounter(ctx, encounter("E1", "M1", date(2024, 3, 1), 2, 1, "314530002")); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "M1"); got != "CMR/2024:COMPLETED:p90 CMR_SUMMARY/EE1:SCHEDULED:p85 FOLLOW_UP/EE1:SCHEDULED:p45 TMR/2024-Q1:SCHEDULED:p70" {
		t.Fatalf("after the review: %s", got)
	}
	// The encounter first (a reconciliation on Feb 12), then the assessment of Feb 10:
	// the new TMR is created completed.
	if err := f.s.OnEncounter(ctx, encounter("E2", "M2", date(2024, 2, 12), 0, 0, "430193006")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnAssessment(ctx, assessment("M2", "MODERATE", date(2024, 2, 10))); err != nil {
		t.Fatal(err)
	}
	tmr, _ := f.s.List(ctx, tasks.Filter{Member: "M2"})
	if len(tmr) != 1 || tmr[0].Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || tmr[0].CompletedBy != "encounter/E2" {
		t.Fatalf("retroactive completion: %+v", tmr)
	}
}

// CMS: the written summary of a CMR is sent within 14 calendar days; the
// worker who sends it completes the task, and a redelivered CMR changes nothing.
func TestACompletedCMRSchedulesItsWrittenSummaryWithinFourteenDays(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 2, 10))); err != nil {
		t.Fatal(err)
	}
	cmr := encounter("E1", "M1", date(2024, 3, 1), 0, 0, "314530002")
	for i := 0; i < 2; i++ { // a redelivery
		if err := f.s.OnEncounter(ctx, cmr); err != nil {
			t.Fatal(err)
		}
	}
	sum, _ := f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_CMR_SUMMARY})
	if len(sum) != 1 {
		t.Fatalf("summary tasks after the CMR: %+v, want one", sum)
	}
	s := sum[0]
	if got := civil.FromProto(s.DueDate); got != (civil.Date{Year: 2024, Month: 3, Day: 15}) || civil.FromProto(s.ScheduledOn) != (civil.Date{Year: 2024, Month: 3, Day: 1}) {
		t.Fatalf("summary task from %s due %s, want from the CMR (2024-03-01) to 14 days after it", civil.FromProto(s.ScheduledOn), got)
	}
	if !strings.Contains(s.Reason, "emtmctl cmr summary E1") || s.Version != 1 {
		t.Fatalf("reason %q version %d: want the command that writes it, and no change on the redelivery", s.Reason, s.Version)
	}
	// A TMR's review schedules no summary (the Standardized Format follows a CMR only).
	if err := f.s.OnEncounter(ctx, encounter("E2", "M1", date(2024, 3, 20), 0, 0, "430193006")); err != nil {
		t.Fatal(err)
	}
	if sum, _ = f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_CMR_SUMMARY}); len(sum) != 1 {
		t.Fatalf("summary tasks after a TMR: %d, want still one", len(sum))
	}
	done, err := f.s.Complete(ctx, s.TaskId, "", civil.FromProto(date(2024, 3, 8)), "mailed")
	if err != nil || done.Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Fatalf("completing the summary task: %v %+v", err, done)
	}
	ms, err := f.s.Measures(ctx, "S9925", "001", 2024)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == "cmr_summary_sent_within_14_days" {
			if m.Numerator != 1 || m.Denominator != 1 {
				t.Fatalf("summaries sent in time: %d/%d, want 1/1", m.Numerator, m.Denominator)
			}
			return
		}
	}
	t.Fatalf("no cmr_summary_sent_within_14_days measure in %+v", ms)
}

func TestASkilledNursingDischargeIsReconciledLikeAHospitalsAndAnOutpatientVisitIsNot(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	stay := func(member string, setting medicalv1.CareSetting) *medicalv1.PartsAbSummary {
		d := date(2024, 5, 10)
		return &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/" + member}, SummaryId: member, MemberId: member,
			Setting: setting, AdmitDate: date(2024, 5, 1), DischargeDate: d, ContractId: "S9925", PbpId: "001", CostUnknown: true}
	}
	for member, setting := range map[string]medicalv1.CareSetting{"M1": medicalv1.CareSetting_CARE_SETTING_SNF, "M2": medicalv1.CareSetting_CARE_SETTING_OTHER} {
		if err := f.s.OnAssessment(ctx, assessment(member, "HIGH", date(2024, 5, 1))); err != nil {
			t.Fatal(err)
		}
		if err := f.s.OnPartsAB(ctx, stay(member, setting)); err != nil {
			t.Fatal(err)
		}
	}
	snf, _ := f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_POST_DISCHARGE})
	if len(snf) != 1 || snf[0].DueDate.Day != 17 {
		t.Fatalf("after a SNF discharge: %+v, want one reconciliation due May 17", snf)
	}
	other, _ := f.s.List(ctx, tasks.Filter{Member: "M2", Kind: schedulingv1.TaskKind_TASK_KIND_POST_DISCHARGE})
	if len(other) != 0 {
		t.Fatalf("an outpatient claim scheduled a reconciliation: %+v", other)
	}
}

func TestDischargeDeathAndExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	inpatient := func(member string, d *typesv1.Date) *medicalv1.PartsAbSummary {
		return &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/" + member}, SummaryId: member, MemberId: member,
			Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, AdmitDate: d, DischargeDate: d, ContractId: "S9925", PbpId: "001"}
	}
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 5, 1))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnPartsAB(ctx, inpatient("M1", date(2024, 5, 10))); err != nil {
		t.Fatal(err)
	}
	pd, _ := f.s.List(ctx, tasks.Filter{Member: "M1", Kind: schedulingv1.TaskKind_TASK_KIND_POST_DISCHARGE})
	if len(pd) != 1 || pd[0].DueDate.Day != 17 || pd[0].Priority != 100 {
		t.Fatalf("post-discharge %+v", pd)
	}
	// A MODERATE member discharged, then assessed HIGH: the reconciliation moves to HIGH's 7 days.
	if err := f.s.OnAssessment(ctx, assessment("M4", "MODERATE", date(2024, 5, 1))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnPartsAB(ctx, inpatient("M4", date(2024, 5, 10))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnAssessment(ctx, assessment("M4", "HIGH", date(2024, 5, 12))); err != nil {
		t.Fatal(err)
	}
	up, _ := f.s.List(ctx, tasks.Filter{Member: "M4", Kind: schedulingv1.TaskKind_TASK_KIND_POST_DISCHARGE})
	if len(up) != 1 || up[0].Priority != 100 || up[0].DueDate.Day != 17 || !strings.HasPrefix(up[0].StatusReason, "upgraded") {
		t.Fatalf("upgraded post-discharge %+v", up)
	}
	// A discharge before the member was ever assessed is remembered for the first assessment.
	if err := f.s.OnPartsAB(ctx, inpatient("M2", date(2024, 6, 1))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.OnAssessment(ctx, assessment("M2", "HIGH", date(2024, 6, 3))); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "M2"); !strings.Contains(got, "POST_DISCHARGE/D2024-06-01:SCHEDULED") {
		t.Fatalf("late tier: %s", got)
	}
	// Death cancels every open task.
	if err := f.s.OnEnrollment(ctx, &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: "enrollment/x"}, MemberId: "M2",
		EndDate: date(2024, 6, 20), EndReason: enrollmentv1.EndReason_END_REASON_DECEASED}); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "M2"); strings.Contains(got, "SCHEDULED") {
		t.Fatalf("after death: %s", got)
	}
	// When the clock passes a task's expiry date (due + 30 days), the sweep expires it;
	// the annual CMR stays open to the year's end; the third quarter's TMR has started.
	if err := f.s.OnEncounter(ctx, encounter("E9", "M3", date(2024, 8, 20), 0, 0, "428191000124101")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.tasksOf(t, "M1"); got != "CMR/2024:SCHEDULED:p90 POST_DISCHARGE/D2024-05-10:EXPIRED:p100 TMR/2024-Q2:EXPIRED:p70 TMR/2024-Q3:SCHEDULED:p70" {
		t.Fatalf("after expiry: %s", got)
	}
	overdue, _ := f.s.List(ctx, tasks.Filter{OverdueOnly: true})
	if len(overdue) != 2 || overdue[0].TaskId != "task/M1/CMR/2024" || overdue[1].TaskId != "task/M4/CMR/2024" {
		t.Fatalf("overdue %+v (the CMRs of M1 and M4, due June 30 and July 11, earliest first)", overdue)
	}
}

func TestMonitoringMeasures(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	disch := func(member string, d *typesv1.Date) {
		t.Helper()
		if err := f.s.OnPartsAB(ctx, &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "m"}, SummaryId: member, MemberId: member,
			Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, DischargeDate: d, ContractId: "S9925", PbpId: "001"}); err != nil {
			t.Fatal(err)
		}
	}
	for i, tier := range []string{"HIGH", "HIGH", "MODERATE", "LOW"} {
		if err := f.s.OnAssessment(ctx, assessment(fmt.Sprintf("M%d", i), tier, date(2024, 4, 1))); err != nil {
			t.Fatal(err)
		}
		disch(fmt.Sprintf("M%d", i), date(2024, 4, 10))
	}
	// M0 (HIGH) is reconciled on day 5, M1 (HIGH) on day 20, M2 on day 25, M3 never.
	for i, day := range map[int]int32{0: 15, 1: 30, 2: 5} {
		month := int32(4)
		if day < 10 {
			month = 5
		}
		if err := f.s.OnEncounter(ctx, encounter(fmt.Sprintf("E%d", i), fmt.Sprintf("M%d", i), date(2024, int(month), int(day)), 0, 0, "430193006")); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := f.s.Measures(ctx, "S9925", "001", 2024)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range ms {
		got[m.Name] = fmt.Sprintf("%d/%d", m.Numerator, m.Denominator)
	}
	want := map[string]string{"discharged_received_mtm": "3/4", "high_risk_discharged_within_7_days": "1/2", "cmr_completion_rate": "0/2", "tmr_completion_rate": "3/3"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s (all %v)", k, got[k], v, got)
		}
	}
}

func TestPlansThatDispatchOverNATSFillTheWorkQueue(t *testing.T) {
	t.Parallel()
	f := setup(t, func(s string) string { return strings.Replace(s, "dispatch: grpc", "dispatch: nats", 1) })
	ctx := context.Background()
	if err := f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 2, 10))); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	work := testkit.StreamMessages(t, f.env.JS, bus.StreamWork)
	var subjects []string
	for _, m := range work {
		subjects = append(subjects, m.Subject)
	}
	sort.Strings(subjects)
	if strings.Join(subjects, " ") != "emtm.work.S9925-001.CMR emtm.work.S9925-001.TMR" {
		t.Fatalf("work queue %v", subjects)
	}
	if got := f.tasksOf(t, "M1"); got != "CMR/2024:LEASED:p90 TMR/2024-Q1:LEASED:p70" {
		t.Fatalf("dispatched tasks %s", got)
	}
	// Sweeping again dispatches nothing twice.
	if err := f.s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(testkit.StreamMessages(t, f.env.JS, bus.StreamWork)); n != 2 {
		t.Fatalf("%d work items after a second sweep", n)
	}
}

// The outcome depends on the events' dates, not on the order in which the
// streams deliver them relative to one another: every interleaving of these
// events (assessments in their stream's order, which the bus keeps), with a
// sweep after each, ends in the same tasks.
func TestTheOrderOfEventsDoesNotChangeTheOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type event func(f fixture) error
	events := []event{
		func(f fixture) error { return f.s.OnAssessment(ctx, assessment("M1", "MODERATE", date(2024, 5, 1))) },
		func(f fixture) error {
			return f.s.OnPartsAB(ctx, &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/1"}, SummaryId: "H1", MemberId: "M1",
				Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, DischargeDate: date(2024, 5, 10), ContractId: "S9925", PbpId: "001"})
		},
		func(f fixture) error { return f.s.OnAssessment(ctx, assessment("M1", "HIGH", date(2024, 5, 12))) },
		func(f fixture) error {
			return f.s.OnEncounter(ctx, encounter("E1", "M1", date(2024, 8, 15), 0, 0, "430193006"))
		},
	}
	var first string
	f := setup(t, nil)
	perm := []int{0, 1, 2, 3}
	var orders [][]int
	var gen func(int)
	gen = func(k int) {
		if k == len(perm) {
			orders = append(orders, append([]int(nil), perm...))
			return
		}
		for i := k; i < len(perm); i++ {
			perm[k], perm[i] = perm[i], perm[k]
			gen(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	gen(0)
	inStreamOrder := func(o []int) bool {
		for _, i := range o {
			if i == 2 {
				return false // the HIGH assessment before the MODERATE one: not a delivery the bus makes
			}
			if i == 0 {
				return true
			}
		}
		return true
	}
	kept := orders[:0]
	for _, o := range orders {
		if inStreamOrder(o) {
			kept = append(kept, o)
		}
	}
	orders = kept
	if len(orders) != 12 {
		t.Fatalf("%d interleavings, want 12", len(orders))
	}
	for _, order := range orders {
		if err := f.env.Redis.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		for _, i := range order {
			if err := events[i](f); err != nil {
				t.Fatal(err)
			}
			if err := f.s.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got := f.tasksOf(t, "M1")
		if first == "" {
			first = got
			// The discharge of May 10 is HIGH's (assessed HIGH two days later): due May 17,
			// expired by the August clock; the second quarter's TMR expired on July 30;
			// the CMR (due July 11) is open to the year's end: overdue; the third
			// quarter's TMR, started on July 1, is completed by the review of August 15.
			if got != "CMR/2024:SCHEDULED:p90 POST_DISCHARGE/D2024-05-10:EXPIRED:p100 TMR/2024-Q2:EXPIRED:p70 TMR/2024-Q3:COMPLETED:p70" {
				t.Fatalf("outcome %s", got)
			}
			continue
		}
		if got != first {
			t.Fatalf("order %v gives %s, order %v gave %s", order, got, orders[0], first)
		}
	}
}

// The assessment that creates a member's TMR and the encounter that delivers
// it come on two streams, handled at the same time: whichever finishes last,
// the task ends completed by the encounter (neither may read before the
// other has written and both miss each other).
func TestAnEncounterAndTheTaskItCompletesArrivingAtOnceEndCompleted(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	const members = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*members)
	start := make(chan struct{})
	for i := range members {
		m := fmt.Sprintf("RACE-%03d", i)
		a, e := assessment(m, "MODERATE", date(2024, 2, 10)), encounter("E-"+m, m, date(2024, 2, 12), 0, 0, "430193006")
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			errs <- f.s.OnAssessment(ctx, a)
		}()
		go func() {
			defer wg.Done()
			<-start
			errs <- f.s.OnEncounter(ctx, e)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	open := 0
	for i := range members {
		m := fmt.Sprintf("RACE-%03d", i)
		if got := f.tasksOf(t, m); !strings.HasPrefix(got, "TMR/2024-Q1:COMPLETED:") || strings.Contains(got, " ") {
			open++
			if open <= 3 {
				t.Errorf("%s: %s, want the TMR completed by its encounter", m, got)
			}
		}
	}
	if open > 0 {
		t.Errorf("%d of %d members' TMRs missed their encounter", open, members)
	}
}

// TestAPlansCountsAndBacklogAreItsOwnAndSumToEveryPlans: two plans' tasks
// through creation, lease, completion and cancellation; each plan's counters
// and open-task backlog hold its own tasks only, and together they are the
// counters of every plan.
func TestAPlansCountsAndBacklogAreItsOwnAndSumToEveryPlans(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	other := func(a *riskv1.RiskAssessment) *riskv1.RiskAssessment {
		a.ContractId = "H1234"
		return a
	}
	for _, a := range []*riskv1.RiskAssessment{
		assessment("M1", "HIGH", date(2024, 2, 10)), assessment("M2", "MODERATE", date(2024, 2, 11)),
		other(assessment("M3", "HIGH", date(2024, 2, 12))), assessment("M2", "LOW", date(2024, 3, 1)),
	} {
		if err := f.s.OnAssessment(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	leased, _, err := f.s.Lease(ctx, "alice", "H1234", "001", 1, nil)
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease %v %v", leased, err)
	}
	if _, err := f.s.Complete(ctx, leased[0].TaskId, "alice", civil.Date{Year: 2024, Month: 3, Day: 2}, ""); err != nil {
		t.Fatal(err)
	}
	flat := func(cs []*schedulingv1.TaskCount) map[string]int64 {
		m := map[string]int64{}
		for _, c := range cs {
			m[enums.Name(c.Kind)+"/"+enums.Name(c.Status)] += c.Count
		}
		return m
	}
	s9925, created1, err := f.s.Counts(ctx, "S9925-001")
	if err != nil {
		t.Fatal(err)
	}
	h1234, created2, err := f.s.Counts(ctx, "H1234-001")
	if err != nil {
		t.Fatal(err)
	}
	all, createdAll, err := f.s.Counts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// S9925: M1's CMR and TMR open, M2's TMR too (a downgrade stays in the
	// program to the year's end); H1234: M3's CMR completed, its TMR open.
	want1 := map[string]int64{"CMR/SCHEDULED": 1, "TMR/SCHEDULED": 2}
	want2 := map[string]int64{"CMR/COMPLETED": 1, "TMR/SCHEDULED": 1}
	if got := flat(s9925); fmt.Sprint(got) != fmt.Sprint(want1) || created1 != 3 {
		t.Errorf("S9925-001: %v created %d, want %v and 3", got, created1, want1)
	}
	if got := flat(h1234); fmt.Sprint(got) != fmt.Sprint(want2) || created2 != 2 {
		t.Errorf("H1234-001: %v created %d, want %v and 2", got, created2, want2)
	}
	sum := flat(s9925)
	for k, n := range flat(h1234) {
		sum[k] += n
	}
	if fmt.Sprint(flat(all)) != fmt.Sprint(sum) || createdAll != created1+created2 {
		t.Errorf("every plan's %v (created %d) is not the sum %v (created %d)", flat(all), createdAll, sum, created1+created2)
	}
	open := func(plan string) int64 {
		b, err := f.s.Backlog(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, c := range b {
			n += c
		}
		return n
	}
	if a, b, c := open("S9925-001"), open("H1234-001"), open(""); a != 3 || b != 1 || c != 4 {
		t.Errorf("open tasks: S9925 %d, H1234 %d, all %d; want 3, 1, 4", a, b, c)
	}
	// The lease counts against H1234's CMR capacity this week, not S9925's.
	use := func(contract string) map[string]string {
		caps, err := f.s.Capacity(ctx, contract, "001")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range caps {
			m[c.Kind] = fmt.Sprintf("%d/%d %s", c.Used, c.Capacity, c.Week)
		}
		return m
	}
	week := tasks.ISOWeek(time.Now())
	if got := use("H1234")["CMR"]; got != "1/40 "+week {
		t.Errorf("H1234's CMR capacity %q, want 1/40 %s", got, week)
	}
	if got := use("S9925")["CMR"]; got != "0/40 "+week {
		t.Errorf("S9925's CMR capacity %q, want 0/40 %s", got, week)
	}
}
