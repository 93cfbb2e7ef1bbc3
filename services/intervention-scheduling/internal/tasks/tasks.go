// Package tasks is intervention-scheduling's use case. Assessments, inpatient
// discharges, MTM encounters and enrollment ends become intervention tasks with
// a lifecycle: scheduled -> leased (by a worker, until the lease expires) ->
// completed (by a matching encounter or the API) / cancelled / expired. There
// is at most one task of a kind per beneficiary and period (the id says so); a
// tier change upgrades or cancels open tasks instead of adding duplicates; over
// a week's capacity, ready tasks wait in priority order. Every change is
// published through an outbox (a version per task, republished if lost).
package tasks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
)

// Scheduler runs the use case.
type Scheduler struct {
	// periodsMu guards periodsOn: the day the program's periods were last
	// started by an event moving the clock (see saw).
	periodsMu  sync.Mutex
	periodsOn  civil.Date
	store      Store
	pub        bus.Events
	policies   *policy.Policies
	clock      clock.Clock
	partitions int
	hasher     *pseudonym.Hasher
	now        func() time.Time
}

// New returns a Scheduler.
func New(store Store, pub bus.Events, policies *policy.Policies, clk clock.Clock, partitions int, hasher *pseudonym.Hasher) *Scheduler {
	return &Scheduler{store: store, pub: pub, policies: policies, clock: clk, partitions: partitions, hasher: hasher, now: time.Now}
}

// saw moves the scheduling clock to an event's date and, on the first event
// of a new day, starts the periods that began by then (one batch; the sweep
// does any rest). So the program's tasks follow the events that move the
// clock, not a timer: replaying the same events gives the same tasks.
func (s *Scheduler) saw(ctx context.Context, d civil.Date) error {
	if err := s.clock.Saw(ctx, d); err != nil {
		return err
	}
	today, err := s.clock.Today(ctx)
	if err != nil || today.IsZero() {
		return err
	}
	s.periodsMu.Lock()
	fresh := today != s.periodsOn
	s.periodsMu.Unlock()
	if !fresh {
		return nil
	}
	if err := s.startPeriods(ctx, today, 1); err != nil {
		return err // the event is retried, and starts the periods again
	}
	s.periodsMu.Lock()
	if today.After(s.periodsOn) {
		s.periodsOn = today
	}
	s.periodsMu.Unlock()
	return nil
}

// TaskID is deterministic: one task per beneficiary, kind and period (libs/taskid).
func TaskID(member, kind, period string) string { return taskid.ID(member, kind, period) }

func (s *Scheduler) tag(ctx context.Context, member string) {
	s.hasher.Tag(ctx, member)
}

// publish puts the current version of a task on the bus and records it.
func (s *Scheduler) publish(ctx context.Context, id, causeID string) error {
	t, published, err := s.store.Get(ctx, id)
	if err != nil || t == nil || published {
		return err
	}
	eventID := fmt.Sprintf("%s@%d", id, t.Version)
	t.Meta = s.pub.Meta(ctx, eventID, causeID)
	if _, err := s.pub.Publish(ctx, bus.Out{Subject: bus.TaskSubject(bus.Partition(t.MemberId, s.partitions)), MsgID: eventID, Msg: t}); err != nil {
		return err
	}
	return s.store.MarkPublished(ctx, id, t.Version)
}

// create makes a task from a spec unless it exists. Its first state follows
// from the facts already recorded, whatever order they arrived in: a
// completed encounter in its window completes it; for a CMR, offers, declines
// and unreached attempts in its window are recorded on it and a decline
// declines it; an enrollment that ends (death, disenrollment) before the due
// date cancels it; a day the member is not enrolled in the plan schedules
// nothing. m is the member's membership when the caller has it.
func (s *Scheduler) create(ctx context.Context, member, contract, pbp, tier, causeID string, p policy.Plan, sp policy.Spec, m *policy.Membership) error {
	if sp.Tier != "" {
		tier = sp.Tier
	}
	if m == nil {
		mm, _, err := s.store.Membership(ctx, member)
		if err != nil {
			return err
		}
		m = &mm
	}
	if !m.Enrolled(sp.ScheduledOn) {
		return nil
	}
	id := TaskID(member, sp.Kind, sp.Period)
	t := &schedulingv1.InterventionTask{
		TaskId: id, MemberId: member, ContractId: contract, PbpId: pbp, Kind: enums.Of[schedulingv1.TaskKind](sp.Kind), Status: schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED,
		Priority: int32(sp.Priority), ScheduledOn: sp.ScheduledOn.Proto(), DueDate: sp.Due.Proto(), ExpiresOn: sp.Expires.Proto(),
		Tier: enums.Of[riskv1.RiskTier](tier), Reason: sp.Reason, AssessmentId: causeID, Period: sp.Period,
	}
	// The task keeps the meta of its creation: the trace of the event that caused it.
	t.Meta = s.pub.Meta(ctx, id+"@1", causeID)
	encs, err := s.store.Encounters(ctx, member, sp.ScheduledOn, sp.Expires)
	if err != nil {
		return err
	}
	in := Initial{Status: Scheduled}
	var by Encounter
	for _, e := range encs {
		if !e.Completed() || !completes(p, e, sp.Kind) {
			continue
		}
		// An encounter completes one task of a kind: not this one when it
		// already completed another (an earlier period's, still in its window).
		used, err := s.completedOther(ctx, member, sp.Kind, "encounter/"+e.ID)
		if err != nil {
			return err
		}
		if !used {
			in.Status, in.CompletedBy, in.CompletedOn, by = Completed, "encounter/"+e.ID, e.Date, e
			break
		}
	}
	if sp.Kind == policy.CMR {
		for _, e := range encs {
			if e.Completed() || !completes(p, e, policy.CMR) {
				continue
			}
			in.Attempts = append(in.Attempts, Attempt{Encounter: e.ID, Date: e.Date, Outcome: e.Outcome})
			if e.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED && in.Status == Scheduled {
				in.Status, in.Reason = Declined, fmt.Sprintf("declined on %s (encounter %s)", e.Date, e.ID)
			}
		}
	}
	if in.Status == Scheduled {
		// Open when the enrollment ended (before its expiry): cancelled, as OnEnrollment does.
		if end, why, ok := m.Leaves(sp.ScheduledOn, sp.Expires); ok {
			in.Status, in.Reason = Cancelled, ended(why, end)
		}
	}
	created, err := s.store.Create(ctx, t, planid.Key(contract, pbp), in)
	if err != nil {
		return err
	}
	if created && in.Status == Completed {
		if err := s.followUp(ctx, member, contract, pbp, tier, p, sp.Kind, by); err != nil {
			return err
		}
	}
	return s.publish(ctx, id, causeID)
}

// completedOther reports whether a member's task of a kind was completed by.
func (s *Scheduler) completedOther(ctx context.Context, member, kind, by string) (bool, error) {
	done, err := s.memberTasks(ctx, member, Completed)
	if err != nil {
		return false, err
	}
	for _, t := range done {
		if enums.Name(t.Kind) == kind && t.CompletedBy == by {
			return true, nil
		}
	}
	return false, nil
}

// ended says why enrollment ended on a date.
func ended(why string, on civil.Date) string {
	if why == "" {
		why = "enrollment ended"
	}
	return fmt.Sprintf("%s on %s", why, on)
}

func completes(p policy.Plan, e Encounter, kind string) bool {
	for _, c := range e.Codes {
		for _, k := range p.KindsCompletedBy(c) {
			if k == kind {
				return true
			}
		}
	}
	return false
}

// memberTasks reads a member's tasks in the given statuses.
func (s *Scheduler) memberTasks(ctx context.Context, member string, statuses ...string) ([]*schedulingv1.InterventionTask, error) {
	ids, err := s.store.MemberTasks(ctx, member)
	if err != nil {
		return nil, err
	}
	want := map[schedulingv1.TaskStatus]bool{}
	for _, st := range statuses {
		want[enums.Of[schedulingv1.TaskStatus](st)] = true
	}
	var out []*schedulingv1.InterventionTask
	for _, id := range ids {
		t, _, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if t != nil && want[t.Status] {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskId < out[j].TaskId })
	return out, nil
}

// OnAssessment records the member's tier as of the assessment's date, brings
// open tasks up to a higher tier (priority, due date), cancels what the tier
// no longer wants (adherence outreach; CMR and TMR only when the plan's
// on_downgrade is leave), schedules adherence outreach, and makes sure every
// CMR and TMR the program calls for from this date to today exists.
func (s *Scheduler) OnAssessment(ctx context.Context, a *riskv1.RiskAssessment) error {
	s.tag(ctx, a.MemberId)
	on := civil.FromProto(a.AsOf)
	if !on.Valid() {
		return bus.Permanent(fmt.Errorf("assessment %s has no valid as_of date", a.AssessmentId))
	}
	if err := s.saw(ctx, on); err != nil {
		return err
	}
	tier := enums.Name(a.Tier)
	p := s.policies.For(a.ContractId, a.PbpId)
	if err := s.store.SetTier(ctx, a.MemberId, tier, planid.Key(a.ContractId, a.PbpId), on); err != nil {
		return err
	}
	var nonAdherent []string
	for _, pr := range a.Problems {
		if pr.Code == "NONADH" {
			nonAdherent = append(nonAdherent, strings.TrimPrefix(pr.Key, "NONADH:"))
		}
	}
	specs := p.ForAssessment(tier, on, nonAdherent)
	existing, err := s.memberTasks(ctx, a.MemberId, Scheduled, Leased, Expired, Completed, Declined)
	if err != nil {
		return err
	}
	for _, t := range existing {
		kind := enums.Name(t.Kind)
		if kind != policy.CMR && kind != policy.TMR && kind != policy.Adherence {
			continue // post-discharge and follow-up tasks answer events, not tiers
		}
		closed := t.Status == schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || t.Status == schedulingv1.TaskStatus_TASK_STATUS_DECLINED
		if closed {
			// A tier dated on or before a CMR's or TMR's start is the tier that
			// scheduled it, whatever became of the task since (events of two
			// streams arrive in either order): its priority still follows.
			if (kind != policy.CMR && kind != policy.TMR) || on.After(civil.FromProto(t.ScheduledOn)) {
				continue
			}
			if prio := p.Priority(tier, kind); int32(prio) > t.Priority {
				err := s.transition(ctx, t.TaskId, Completed+","+Declined, "", "", false, Edit{Priority: prio}) // its status reason (a completion note) stays
				if err != nil && !refused(err) {
					return err
				}
				if err := s.publish(ctx, t.TaskId, a.AssessmentId); err != nil {
					return err
				}
			}
			continue
		}
		reason := ""
		switch {
		case kind == policy.Adherence && !p.Wants(tier, kind):
			reason = fmt.Sprintf("tier %s on %s does not call for %s", tier, on, kind)
		case kind == policy.Adherence && len(nonAdherent) == 0:
			reason = fmt.Sprintf("adherence restored by %s", on)
		case p.OnDowngrade == policy.Leave && !p.Wants(tier, kind):
			reason = fmt.Sprintf("tier %s on %s does not call for %s", tier, on, kind)
		}
		expires := civil.FromProto(t.ExpiresOn)
		if reason != "" {
			// In event time: a change dated before the task's expiry cancels it
			// (even if a sweep already expired it); one dated after finds it expired.
			from, to := Open+","+Expired, Cancelled
			if on.After(expires) {
				from, to, reason = Open, Expired, "not completed by its expiry date"
			}
			if err := s.transition(ctx, t.TaskId, from, to, "", true, Edit{Reason: Reason(reason)}); err != nil && !refused(err) {
				return err
			}
			if err := s.publish(ctx, t.TaskId, a.AssessmentId); err != nil {
				return err
			}
			continue
		}
		if t.Status == schedulingv1.TaskStatus_TASK_STATUS_EXPIRED && on.After(expires) {
			continue // expired before this tier change
		}
		// Upgrade: a higher tier's priority, and its earlier due date for the same period.
		prio := p.Priority(tier, kind)
		due := civil.FromProto(t.DueDate)
		for _, sp := range specs {
			if sp.Kind == kind && TaskID(a.MemberId, kind, sp.Period) == t.TaskId && sp.Due.Before(due) {
				due = sp.Due
			}
		}
		if int32(prio) > t.Priority || due.Before(civil.FromProto(t.DueDate)) {
			// An upgrade dated before the expiry applies even if the task has expired since.
			err := s.transition(ctx, t.TaskId, Open+","+Expired, "", "", false,
				Edit{Priority: max(prio, int(t.Priority)), Due: due, Reason: Reason(fmt.Sprintf("upgraded: tier %s on %s", tier, on))})
			if err != nil && !refused(err) {
				return err
			}
			if err := s.publish(ctx, t.TaskId, a.AssessmentId); err != nil {
				return err
			}
		}
	}
	for _, sp := range specs {
		if sp.Kind != policy.Adherence {
			continue // CMR and TMR come from the program (ensureRecurring)
		}
		if err := s.create(ctx, a.MemberId, a.ContractId, a.PbpId, tier, a.AssessmentId, p, sp, nil); err != nil {
			return err
		}
	}
	if err := s.ensureRecurring(ctx, a.MemberId, a.ContractId, a.PbpId, on, a.AssessmentId); err != nil {
		return err
	}
	// Discharges whose window this tier point falls in.
	ds, err := s.store.MemberDischarges(ctx, a.MemberId, on.AddDays(-dischargeAfter), on.AddDays(dischargeBefore))
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := s.ensureDischarge(ctx, a.MemberId, a.ContractId, a.PbpId, d, a.AssessmentId); err != nil {
			return err
		}
	}
	return nil
}

// ensureRecurring creates every CMR and TMR the program calls for, scheduled
// from from to today, and records when the member's next one starts (for
// the sweep). Creating is idempotent: a period's task exists once.
func (s *Scheduler) ensureRecurring(ctx context.Context, member, contract, pbp string, from civil.Date, causeID string) error {
	p := s.policies.For(contract, pbp)
	// The clock may move on while this runs (other members' events): when the
	// next period has started by then, go on, so that nothing waits for a sweep.
	for round := 0; round < 3; round++ {
		today, err := s.clock.Today(ctx)
		if err != nil || today.IsZero() {
			return err
		}
		m, version, err := s.store.Membership(ctx, member)
		if err != nil {
			return err
		}
		for _, sp := range p.Recurring(m, from, today) {
			if err := s.create(ctx, member, contract, pbp, "", causeID, p, sp, &m); err != nil {
				return err
			}
		}
		next, ok := p.NextRecurring(m, today)
		if err := s.store.SetNextRecurring(ctx, member, version, next, ok); err != nil {
			return err
		}
		now, err := s.clock.Today(ctx)
		if err != nil || !ok || next.After(now) {
			return err
		}
		from = next
	}
	return nil
}

// A discharge's tier is the highest in force from dischargeBefore days before
// it to dischargeAfter days after it: decided by dates, never by the order in
// which a discharge and an assessment happen to be processed.
const (
	dischargeBefore = 30
	dischargeAfter  = 7
)

var tierRank = map[string]int{"LOW": 1, "MODERATE": 2, "HIGH": 3}

// dischargeTier is the member's tier for a discharge on d ("" when unknown).
func (s *Scheduler) dischargeTier(ctx context.Context, member string, d civil.Date) (string, error) {
	points, err := s.store.TierHistory(ctx, member, d.AddDays(-dischargeBefore), d.AddDays(dischargeAfter))
	if err != nil {
		return "", err
	}
	best := ""
	for _, p := range points {
		if tierRank[p.Tier] > tierRank[best] {
			best = p.Tier
		}
	}
	return best, nil
}

// ensureDischarge makes the post-discharge task of a discharge agree with the
// discharge's tier: created when the tier calls for one, brought forward (a
// higher priority, an earlier due date) when a higher tier shows up; never
// cancelled or lowered.
func (s *Scheduler) ensureDischarge(ctx context.Context, member, contract, pbp string, d civil.Date, causeID string) error {
	tier, err := s.dischargeTier(ctx, member, d)
	if err != nil || tier == "" {
		return err
	}
	p := s.policies.For(contract, pbp)
	sp, ok := p.ForDischarge(tier, d)
	if !ok {
		return nil
	}
	id := TaskID(member, sp.Kind, sp.Period)
	t, _, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if t == nil {
		return s.create(ctx, member, contract, pbp, tier, causeID, p, sp, nil)
	}
	done := t.Status == schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || t.Status == schedulingv1.TaskStatus_TASK_STATUS_CANCELLED
	due := civil.FromProto(t.DueDate)
	if done || (int32(sp.Priority) <= t.Priority && !sp.Due.Before(due)) {
		return nil
	}
	if sp.Due.Before(due) {
		due = sp.Due
	}
	// The discharge's tier is a fact of dates: it applies to an expired task too.
	err = s.transition(ctx, id, Open+","+Expired, "", "", false,
		Edit{Priority: max(sp.Priority, int(t.Priority)), Due: due, Reason: Reason(fmt.Sprintf("upgraded: %s around the discharge", tier))})
	if err != nil && !refused(err) {
		return err
	}
	return s.publish(ctx, id, causeID)
}

// OnPartsAB records a discharge from a hospital or a skilled nursing facility
// (both transitions of care) and schedules the reconciliation the member's
// tier calls for.
func (s *Scheduler) OnPartsAB(ctx context.Context, m *medicalv1.PartsAbSummary) error {
	stay := m.Setting == medicalv1.CareSetting_CARE_SETTING_INPATIENT || m.Setting == medicalv1.CareSetting_CARE_SETTING_SNF
	if !stay || m.DischargeDate == nil {
		return nil
	}
	s.tag(ctx, m.MemberId)
	d := civil.FromProto(m.DischargeDate)
	if err := s.saw(ctx, d); err != nil {
		return err
	}
	_, pl, err := s.store.Tier(ctx, m.MemberId)
	if err != nil {
		return err
	}
	if m.ContractId != "" {
		pl = planid.Key(m.ContractId, m.PbpId)
	}
	if pl == "" {
		return nil // a member the plan has not assessed and whose plan is unknown: nothing to schedule
	}
	tier, err := s.dischargeTier(ctx, m.MemberId, d)
	if err != nil {
		return err
	}
	if err := s.store.RecordDischarge(ctx, pl, m.MemberId, d, tier); err != nil {
		return err
	}
	contract, pbp := planid.Split(pl)
	return s.ensureDischarge(ctx, m.MemberId, contract, pbp, d, m.GetMeta().GetEventId())
}

// OnEncounter records an MTM encounter. A completed one completes the task
// it fulfils (the one it names, or the earliest due of the kinds its codes
// complete) and schedules a follow-up when a CMR or TMR leaves problems
// unresolved; an offer, a decline or a member not reached is a fact about the
// CMR (CMS: the CMR is offered within 60 days of enrollment in the program)
// and is recorded on it; a decline closes it as declined.
func (s *Scheduler) OnEncounter(ctx context.Context, e *encountersv1.MtmEncounter) error {
	s.tag(ctx, e.MemberId)
	date := civil.FromProto(e.ServiceDate)
	if err := s.saw(ctx, date); err != nil {
		return err
	}
	enc := Encounter{ID: e.EncounterId, Date: date, Codes: e.ServiceCodes, Found: int(e.ProblemsFound), Resolved: int(e.ProblemsResolved), Outcome: e.Outcome}
	if err := s.store.RecordEncounter(ctx, e.MemberId, enc); err != nil {
		return err
	}
	p := s.policies.For(e.ContractId, e.PbpId)
	if !enc.Completed() {
		return s.recordOffer(ctx, e, enc, p)
	}
	// A service dated within a task's window completes it, even if the sweep
	// expired it (event time decides), or the member declined it before.
	open, err := s.memberTasks(ctx, e.MemberId, Scheduled, Leased, Expired, Declined)
	if err != nil {
		return err
	}
	by := "encounter/" + e.EncounterId
	done := map[string]bool{}
	complete := func(t *schedulingv1.InterventionTask) error {
		err := s.transition(ctx, t.TaskId, Open+","+Expired+","+Declined, Completed, "", false, Edit{CompletedBy: by, CompletedOn: date})
		if refused(err) {
			return nil
		}
		if err != nil {
			return err
		}
		done[enums.Name(t.Kind)] = true
		if err := s.publish(ctx, t.TaskId, e.GetMeta().GetEventId()); err != nil {
			return err
		}
		tier := enums.Name(t.Tier)
		return s.followUp(ctx, e.MemberId, e.ContractId, e.PbpId, tier, p, enums.Name(t.Kind), enc)
	}
	if e.TaskId != "" {
		for _, t := range open {
			if t.TaskId == e.TaskId {
				if err := complete(t); err != nil {
					return err
				}
				return s.followUps(ctx, e, enc, p, done)
			}
		}
	}
	for _, code := range e.ServiceCodes {
		for _, kind := range p.KindsCompletedBy(code) {
			if done[kind] {
				continue
			}
			var best *schedulingv1.InterventionTask
			for _, t := range open {
				if enums.Name(t.Kind) != kind || date.Before(civil.FromProto(t.ScheduledOn)) || date.After(civil.FromProto(t.ExpiresOn)) {
					continue
				}
				if t.Status == schedulingv1.TaskStatus_TASK_STATUS_DECLINED && kind != policy.CMR {
					continue
				}
				if best == nil || civil.FromProto(t.DueDate).Before(civil.FromProto(best.DueDate)) {
					best = t
				}
			}
			if best != nil {
				if err := complete(best); err != nil {
					return err
				}
				break // one task per service code
			}
		}
	}
	return s.followUps(ctx, e, enc, p, done)
}

// followUps makes sure of what follows the tasks this encounter completed
// before, when this is a redelivery of it (the follow-up or the summary task
// may not have been created when the first delivery failed); creating a task
// that exists changes nothing.
func (s *Scheduler) followUps(ctx context.Context, e *encountersv1.MtmEncounter, enc Encounter, p policy.Plan, done map[string]bool) error {
	closed, err := s.memberTasks(ctx, e.MemberId, Completed)
	if err != nil {
		return err
	}
	for _, t := range closed {
		if kind := enums.Name(t.Kind); t.CompletedBy == "encounter/"+e.EncounterId && !done[kind] {
			if err := s.followUp(ctx, e.MemberId, e.ContractId, e.PbpId, enums.Name(t.Tier), p, kind, enc); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordOffer records an encounter that did not complete its service on the
// CMR it offered: the task it names, or the member's CMR of the encounter's
// year when its codes are a CMR's and its date is in the task's window. A
// decline declines the CMR; an offer or an unreached member is an attempt.
// A CMR that does not exist yet finds the encounter when it is created.
func (s *Scheduler) recordOffer(ctx context.Context, e *encountersv1.MtmEncounter, enc Encounter, p policy.Plan) error {
	id := e.TaskId
	if id == "" {
		if !completes(p, enc, policy.CMR) {
			return nil
		}
		id = TaskID(e.MemberId, policy.CMR, fmt.Sprintf("%d", enc.Date.Year))
	}
	t, _, err := s.store.Get(ctx, id)
	if err != nil || t == nil || t.Kind != schedulingv1.TaskKind_TASK_KIND_CMR || t.MemberId != e.MemberId {
		return err
	}
	if enc.Date.Before(civil.FromProto(t.ScheduledOn)) || enc.Date.After(civil.FromProto(t.ExpiresOn)) {
		return nil
	}
	a := Attempt{Encounter: enc.ID, Date: enc.Date, Outcome: enc.Outcome}
	if recorded(t, a) {
		return s.publish(ctx, id, e.GetMeta().GetEventId()) // recorded before (a redelivery)
	}
	to, edit := "", Edit{Attempt: &a}
	if enc.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED {
		to, edit.Reason = Declined, Reason(fmt.Sprintf("declined on %s (encounter %s)", enc.Date, enc.ID))
	}
	if err := s.transition(ctx, id, Open+","+Expired, to, "", true, edit); err != nil && !refused(err) {
		return err
	}
	return s.publish(ctx, id, e.GetMeta().GetEventId())
}

// followUp schedules what follows a completed task: after a CMR, sending its
// written summary (CMS: within 14 days); after a CMR or TMR that left
// problems unresolved, a follow-up.
func (s *Scheduler) followUp(ctx context.Context, member, contract, pbp, tier string, p policy.Plan, kind string, e Encounter) error {
	if kind == policy.CMR && e.ID != "" && e.Completed() {
		if err := s.create(ctx, member, contract, pbp, tier, "encounter/"+e.ID, p, p.ForCMRSummary(e.Date, e.ID), nil); err != nil {
			return err
		}
	}
	if (kind != policy.CMR && kind != policy.TMR) || e.Found <= e.Resolved || e.ID == "" {
		return nil
	}
	return s.create(ctx, member, contract, pbp, tier, "encounter/"+e.ID, p, p.ForFollowUp(e.Date, e.ID, e.Found-e.Resolved), nil)
}

// OnEnrollment records a span of plan enrollment (the program schedules
// nothing on a day the member is not enrolled). When the span ends by death
// or disenrollment and the member is not enrolled the next day, the
// member's open tasks are cancelled; tasks scheduled on days outside every
// span too. A span that starts (or re-starts) enrollment brings the
// program's recurring tasks up to date.
func (s *Scheduler) OnEnrollment(ctx context.Context, e *enrollmentv1.Enrollment) error {
	s.tag(ctx, e.MemberId)
	span := policy.EnrollmentSpan{Start: civil.FromProto(e.StartDate), End: civil.FromProto(e.EndDate)}
	switch e.EndReason {
	case enrollmentv1.EndReason_END_REASON_DECEASED:
		span.Reason = "deceased"
	case enrollmentv1.EndReason_END_REASON_DISENROLLED:
		span.Reason = "disenrolled"
	}
	if err := s.store.RecordSpan(ctx, e.MemberId, e.EnrollmentId, span); err != nil {
		return err
	}
	m, _, err := s.store.Membership(ctx, e.MemberId)
	if err != nil {
		return err
	}
	open, err := s.memberTasks(ctx, e.MemberId, Scheduled, Leased, Expired)
	if err != nil {
		return err
	}
	left := !span.End.IsZero() && !m.Enrolled(span.End.AddDays(1))
	for _, t := range open {
		on := civil.FromProto(t.ScheduledOn)
		var why string
		switch {
		case !m.Enrolled(on):
			why = fmt.Sprintf("not enrolled in the plan on %s", on)
		case left && !on.After(span.End) && span.End.Before(civil.FromProto(t.ExpiresOn)):
			// Open on the day enrollment ended, in event time: cancelled even if
			// the sweep expired it before the end was known. A task that expired
			// by then stays expired (create applies the same rule).
			why = ended(span.Reason, span.End)
		default:
			continue
		}
		if err := s.transition(ctx, t.TaskId, Open+","+Expired, Cancelled, "", true, Edit{Reason: Reason(why)}); err != nil && !refused(err) {
			return err
		}
		if err := s.publish(ctx, t.TaskId, e.GetMeta().GetEventId()); err != nil {
			return err
		}
	}
	_, pl, err := s.store.Tier(ctx, e.MemberId)
	if err != nil || pl == "" {
		return err // a member never assessed: no program yet
	}
	contract, pbp := planid.Split(pl)
	return s.ensureRecurring(ctx, e.MemberId, contract, pbp, span.Start, e.GetMeta().GetEventId())
}

// maxConflicts bounds how often a change is decided again because its task
// changed between the read and the write (another event, worker or sweep).
const maxConflicts = 20

// transition decides a move of a task by its lifecycle rules (State.Move)
// and writes it; when the task changed in between, it reads and decides again.
func (s *Scheduler) transition(ctx context.Context, id, from, to, worker string, giveBack bool, e Edit) error {
	for attempt := 1; ; attempt++ {
		st, found, err := s.store.State(ctx, id)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		c, err := st.Move(from, to, worker, giveBack, e)
		if err != nil {
			return err
		}
		if err = s.store.Apply(ctx, c); !errors.Is(err, ErrConflict) || attempt == maxConflicts {
			return err
		}
	}
}

// lease hands up to max ready tasks of a plan to worker, highest ReadyScore
// first, skipping kinds not asked for and kinds whose weekly capacity is used
// up (State.MayLease). Each lease is written only while its task is still
// ready and its kind's capacity is as read; a task another worker took is
// skipped. It returns the ids leased and how many stay queued.
func (s *Scheduler) lease(ctx context.Context, plan, worker string, until time.Time, max int, week string, kinds []string, capacity map[string]int) ([]string, int64, error) {
	var out []string
	used := map[string]int64{}
	// A leased task leaves the queue, so the next page starts after the tasks skipped so far.
	const page, deepest = 200, 5000
	for skipped, read := int64(0), int64(0); len(out) < max && read < deepest; {
		ready, err := s.store.Ready(ctx, plan, skipped, page)
		if err != nil {
			return nil, 0, err
		}
		read += int64(len(ready))
		for _, st := range ready {
			if len(out) >= max {
				break
			}
			if _, ok := used[st.Kind]; !ok {
				if used[st.Kind], err = s.store.CapacityUsed(ctx, plan, week, st.Kind); err != nil {
					return nil, 0, err
				}
			}
			if !st.MayLease(kinds, capacity, used[st.Kind]) {
				skipped++
				continue
			}
			err := s.store.ApplyLease(ctx, Lease{From: st, Worker: worker, Until: until.UnixMilli(), Week: week, Used: used[st.Kind]})
			if errors.Is(err, ErrConflict) {
				// Another worker took this task or some of the kind's capacity: read the capacity again.
				delete(used, st.Kind)
				skipped++
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			used[st.Kind]++
			out = append(out, st.ID)
		}
		if len(ready) < page {
			break
		}
	}
	queued, err := s.store.Queued(ctx, plan)
	return out, queued, err
}

// recorded reports whether an attempt is on the task already.
func recorded(t *schedulingv1.InterventionTask, a Attempt) bool {
	for _, x := range t.Attempts {
		if x.EncounterId == a.Encounter && civil.FromProto(x.Date) == a.Date && x.Outcome == a.Outcome {
			return true
		}
	}
	return false
}

// refused is a transition the store turned down: no such task, or one its
// state does not allow (the caller moves on).
func refused(err error) bool {
	var na NotAllowedError
	return errors.Is(err, ErrNotFound) || errors.As(err, &na)
}

// ISOWeek names the week of t, e.g. "2024-W07" (capacity is counted per ISO week).
func ISOWeek(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// CapacityUse is a kind's leases in a plan's current week against its weekly capacity.
type CapacityUse struct {
	Kind, Week string
	Used       int64
	// Capacity is the program policy's weekly capacity (0: unlimited).
	Capacity int
}

// Capacity is the plan's use of each kind's weekly capacity this week (by the
// wall clock, as leases count it), for every kind the policy bounds or that was leased.
func (s *Scheduler) Capacity(ctx context.Context, contract, pbp string) ([]CapacityUse, error) {
	p := s.policies.For(contract, pbp)
	week := ISOWeek(s.now())
	var out []CapacityUse
	for _, kind := range policy.Kinds {
		used, err := s.store.CapacityUsed(ctx, planid.Key(contract, pbp), week, kind)
		if err != nil {
			return nil, err
		}
		if used > 0 || p.Capacity(kind) > 0 {
			out = append(out, CapacityUse{Kind: kind, Week: week, Used: used, Capacity: p.Capacity(kind)})
		}
	}
	return out, nil
}

// Lease hands up to max ready tasks of a plan to worker.
func (s *Scheduler) Lease(ctx context.Context, worker, contract, pbp string, max int, kinds []string) ([]*schedulingv1.InterventionTask, int64, error) {
	p := s.policies.For(contract, pbp)
	now := s.now()
	ids, queued, err := s.lease(ctx, planid.Key(contract, pbp), worker, now.Add(time.Duration(p.LeaseMinutes)*time.Minute), max, ISOWeek(now), kinds, p.WeeklyCapacity)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*schedulingv1.InterventionTask, 0, len(ids))
	for _, id := range ids {
		if err := s.publish(ctx, id, ""); err != nil {
			return nil, 0, err
		}
		t, _, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, queued, nil
}

// Complete completes an open task (held by worker, when worker is given).
func (s *Scheduler) Complete(ctx context.Context, id, worker string, on civil.Date, note string) (*schedulingv1.InterventionTask, error) {
	if on.IsZero() {
		var err error
		if on, err = s.clock.Today(ctx); err != nil {
			return nil, err
		}
	}
	by := "api"
	if worker != "" {
		by = "api:" + worker
	}
	if err := s.transition(ctx, id, Open, Completed, worker, false, Edit{CompletedBy: by, CompletedOn: on, Reason: Reason(note)}); err != nil {
		return nil, err
	}
	return s.after(ctx, id)
}

// Release gives a leased task back to the queue (and its capacity back to the week).
func (s *Scheduler) Release(ctx context.Context, id, worker string) (*schedulingv1.InterventionTask, error) {
	if err := s.transition(ctx, id, Leased, Scheduled, worker, true, Edit{Reason: Reason("released by " + worker)}); err != nil {
		return nil, err
	}
	return s.after(ctx, id)
}

func (s *Scheduler) after(ctx context.Context, id string) (*schedulingv1.InterventionTask, error) {
	if err := s.publish(ctx, id, ""); err != nil {
		return nil, err
	}
	t, _, err := s.store.Get(ctx, id)
	return t, err
}

// Sweep returns expired leases to the queue, expires open tasks past their
// expiry date, republishes changes that did not reach the bus, and hands ready
// tasks of plans that dispatch over NATS to the work queue.
func (s *Scheduler) Sweep(ctx context.Context) error {
	ids, err := s.store.LeasesExpiredBy(ctx, s.now())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.transition(ctx, id, Leased, Scheduled, "", true, Edit{Reason: Reason("lease expired")}); err != nil && !refused(err) {
			return err
		}
	}
	today, err := s.clock.Today(ctx)
	if err != nil {
		return err
	}
	if !today.IsZero() {
		if err := s.startPeriods(ctx, today, 20); err != nil {
			return err
		}
		ids, err := s.store.ExpiringBefore(ctx, today)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.transition(ctx, id, Open, Expired, "", true, Edit{Reason: Reason("not completed by its expiry date")}); err != nil && !refused(err) {
				return err
			}
		}
	}
	if err := s.store.Relay(ctx, 1000, func(ctx context.Context, id string) error { return s.publish(ctx, id, "") }); err != nil {
		return err
	}
	return s.dispatch(ctx)
}

// startPeriods creates the recurring tasks of the members whose next period
// has started by today, in up to batches batches of 1,000 members (the next
// sweep goes on).
func (s *Scheduler) startPeriods(ctx context.Context, today civil.Date, batches int) error {
	for batch := 0; batch < batches; batch++ {
		due, err := s.store.RecurringDue(ctx, today, 1000)
		if err != nil || len(due) == 0 {
			return err
		}
		members := make([]string, 0, len(due))
		for m := range due {
			members = append(members, m)
		}
		sort.Strings(members)
		for _, member := range members {
			_, pl, err := s.store.Tier(ctx, member)
			if err != nil {
				return err
			}
			contract, pbp := planid.Split(pl)
			if err := s.ensureRecurring(ctx, member, contract, pbp, due[member], ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// dispatch leases ready tasks of NATS-dispatch plans to the work queue and
// publishes them on emtm.work.<plan>.<kind>; a worker there completes them by
// an encounter or CompleteTask.
func (s *Scheduler) dispatch(ctx context.Context) error {
	plans, err := s.store.AllPlans(ctx)
	if err != nil {
		return err
	}
	for _, pl := range plans {
		contract, pbp := planid.Split(pl)
		if s.policies.For(contract, pbp).Dispatch != "nats" {
			continue
		}
		now := s.now()
		ids, _, err := s.lease(ctx, pl, WorkQueueWorker, now.AddDate(1, 0, 0), 500, ISOWeek(now), nil, s.policies.For(contract, pbp).WeeklyCapacity)
		if err != nil {
			return err
		}
		for _, id := range ids {
			t, err := s.after(ctx, id)
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("%s@work@%d", id, t.Version)
			if _, err := s.pub.Publish(ctx, bus.Out{Subject: bus.WorkSubject(pl, enums.Name(t.Kind)), MsgID: msg, Msg: t}); err != nil {
				_ = s.transition(ctx, id, Leased, Scheduled, WorkQueueWorker, true, Edit{Reason: Reason("work queue unavailable")})
				return err
			}
		}
	}
	return nil
}

// WorkQueueWorker is the worker that holds tasks handed to the NATS work queue.
const WorkQueueWorker = "nats-work-queue"
