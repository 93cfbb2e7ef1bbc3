package tasks

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/emtm/emtm/libs/civil"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
)

// Filter selects tasks.
type Filter struct {
	Member      string
	Contract    string
	PBP         string
	Status      schedulingv1.TaskStatus
	Kind        schedulingv1.TaskKind
	OverdueOnly bool
	Limit       int
}

// Get returns one task (nil when there is none).
func (s *Scheduler) Get(ctx context.Context, id string) (*schedulingv1.InterventionTask, error) {
	t, _, err := s.store.Get(ctx, id)
	return t, err
}

// List returns tasks, earliest due first.
func (s *Scheduler) List(ctx context.Context, f Filter) ([]*schedulingv1.InterventionTask, error) {
	var ids []string
	var err error
	today, err := s.clock.Today(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case f.Member != "":
		ids, err = s.store.MemberTasks(ctx, f.Member)
	case f.OverdueOnly:
		ids, err = s.store.OverdueBefore(ctx, today)
	case f.Contract != "":
		ids, err = s.store.PlanTasks(ctx, planid.Key(f.Contract, f.PBP))
	default:
		plans, perr := s.store.AllPlans(ctx)
		err = perr
		for _, p := range plans {
			more, perr := s.store.PlanTasks(ctx, p)
			if perr != nil {
				return nil, perr
			}
			ids = append(ids, more...)
		}
	}
	if err != nil {
		return nil, err
	}
	// Overdue tasks, and one plan's, come in the order listed (due date, then
	// id): reading stops once the limit is met, whatever the backlog.
	ordered := f.Member == "" && (f.OverdueOnly || f.Contract != "")
	var out []*schedulingv1.InterventionTask
	for _, id := range ids {
		if ordered && f.Limit > 0 && len(out) == f.Limit {
			break
		}
		t, _, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if t == nil ||
			(f.Contract != "" && (t.ContractId != f.Contract || t.PbpId != f.PBP)) ||
			(f.Status != 0 && t.Status != f.Status) || (f.Kind != 0 && t.Kind != f.Kind) {
			continue
		}
		open := t.Status == schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED || t.Status == schedulingv1.TaskStatus_TASK_STATUS_LEASED
		if f.OverdueOnly && (!open || !civil.FromProto(t.DueDate).Before(today)) {
			continue
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := civil.FromProto(out[i].DueDate).Compare(civil.FromProto(out[j].DueDate)); c != 0 {
			return c < 0
		}
		return out[i].TaskId < out[j].TaskId
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Today is the scheduling clock's date.
func (s *Scheduler) Today(ctx context.Context) (civil.Date, error) { return s.clock.Today(ctx) }

// Counts returns the non-zero task counts by kind and status, and the number of tasks ever scheduled.
func (s *Scheduler) Counts(ctx context.Context, plan string) ([]*schedulingv1.TaskCount, int64, error) {
	m, total, err := s.store.Counts(ctx, plan)
	if err != nil {
		return nil, 0, err
	}
	var out []*schedulingv1.TaskCount
	for k, n := range m {
		out = append(out, &schedulingv1.TaskCount{Kind: enums.Of[schedulingv1.TaskKind](k[1]), Status: enums.Of[schedulingv1.TaskStatus](k[0]), Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Status < out[j].Status
	})
	return out, total, nil
}

// PharmacistMinutes is the program policy's minutes per task of each kind,
// for a plan (contract and pbp empty: the default program).
func (s *Scheduler) PharmacistMinutes(contract, pbp string) map[string]int32 {
	out := map[string]int32{}
	for k, m := range s.policies.For(contract, pbp).PharmacistMinutes {
		out[k] = int32(m)
	}
	return out
}

// CompletedBy is the program policy's services that complete a task of each
// kind, for a plan (contract and pbp empty: the default program), by kind.
func (s *Scheduler) CompletedBy(contract, pbp string) []*schedulingv1.KindCodes {
	by := s.policies.For(contract, pbp).CompletedBy
	out := make([]*schedulingv1.KindCodes, 0, len(by))
	for _, k := range policy.Kinds {
		if codes := by[k]; len(codes) > 0 {
			out = append(out, &schedulingv1.KindCodes{Kind: enums.Of[schedulingv1.TaskKind](k), Codes: append([]string(nil), codes...)})
		}
	}
	return out
}

// Measure is a share with its definition.
type Measure struct {
	Name, Definition       string
	Numerator, Denominator int64
}

// Rate is numerator / denominator (0 when there is none).
func (m Measure) Rate() float64 {
	if m.Denominator == 0 {
		return 0
	}
	return float64(m.Numerator) / float64(m.Denominator)
}

// Measures computes the Enhanced MTM monitoring measures of a plan for a year
// (docs/domain.md section 1): discharged beneficiaries who received an MTM
// service within 30 days, high-risk ones within 7 days, and the CMR and TMR
// completion rates of the year's tasks.
func (s *Scheduler) Measures(ctx context.Context, contract, pbp string, year int) ([]Measure, error) {
	pl := planid.Key(contract, pbp)
	from, to := civil.Date{Year: year, Month: 1, Day: 1}, civil.Date{Year: year, Month: 12, Day: 31}
	ds, err := s.store.Discharges(ctx, pl, from, to)
	if err != nil {
		return nil, err
	}
	received := func(days int, highOnly bool) (Measure, error) {
		members, served := map[string]bool{}, map[string]bool{}
		for _, d := range ds {
			if highOnly && d.Tier != "HIGH" {
				continue
			}
			members[d.Member] = true
			encs, err := s.store.Encounters(ctx, d.Member, d.Date, d.Date.AddDays(days))
			if err != nil {
				return Measure{}, err
			}
			for _, e := range encs {
				if e.Completed() {
					served[d.Member] = true
				}
			}
		}
		return Measure{Numerator: int64(len(served)), Denominator: int64(len(members))}, nil
	}
	all, err := received(30, false)
	if err != nil {
		return nil, err
	}
	all.Name = "discharged_received_mtm"
	all.Definition = fmt.Sprintf("beneficiaries discharged from an inpatient stay in %d who received a completed MTM service within 30 days of a discharge", year)
	high, err := received(7, true)
	if err != nil {
		return nil, err
	}
	high.Name = "high_risk_discharged_within_7_days"
	high.Definition = "of them, those in the HIGH tier when discharged, served within 7 days"
	out := []Measure{all, high}
	offered := Measure{Name: "cmr_offered_within_60_days", Definition: fmt.Sprintf("CMR tasks of %d offered (an offer, a decline or the CMR itself) within 60 days of the member's start in the program that year, of those not cancelled (CMS: offered within 60 days of MTM enrollment)", year)}
	for _, kind := range []string{policy.CMR, policy.TMR} {
		ids, err := s.store.KindTasks(ctx, pl, kind)
		if err != nil {
			return nil, err
		}
		m := Measure{Name: "cmr_completion_rate", Definition: fmt.Sprintf("CMR tasks of %d completed, of those not cancelled (a declined CMR counts, as not completed)", year)}
		if kind == policy.TMR {
			m = Measure{Name: "tmr_completion_rate", Definition: fmt.Sprintf("TMR tasks of %d completed, of those not cancelled", year)}
		}
		ts, err := s.store.GetMany(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t == nil || len(t.Period) < 4 || t.Period[:4] != strconv.Itoa(year) || t.Status == schedulingv1.TaskStatus_TASK_STATUS_CANCELLED {
				continue
			}
			m.Denominator++
			if t.Status == schedulingv1.TaskStatus_TASK_STATUS_COMPLETED {
				m.Numerator++
			}
			if kind == policy.CMR {
				offered.Denominator++
				if on := civil.FromProto(t.OfferedOn); !on.IsZero() && !on.After(civil.FromProto(t.ScheduledOn).AddDays(60)) {
					offered.Numerator++
				}
			}
		}
		out = append(out, m)
	}
	out = append(out, offered)
	sent := Measure{Name: "cmr_summary_sent_within_14_days", Definition: fmt.Sprintf("written summaries of the CMRs of %d sent (their task completed) by their due date, within 14 days of the CMR, of those not cancelled (CMS: the Standardized Format is sent within 14 calendar days)", year)}
	ids, err := s.store.KindTasks(ctx, pl, policy.CMRSummary)
	if err != nil {
		return nil, err
	}
	ts, err := s.store.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t == nil || int(t.GetScheduledOn().GetYear()) != year || t.Status == schedulingv1.TaskStatus_TASK_STATUS_CANCELLED {
			continue
		}
		sent.Denominator++
		if on := civil.FromProto(t.CompletedOn); t.Status == schedulingv1.TaskStatus_TASK_STATUS_COMPLETED && !on.After(civil.FromProto(t.DueDate)) {
			sent.Numerator++
		}
	}
	return append(out, sent), nil
}

// Backlog counts open tasks by kind and how far past due they are: "not_due",
// "overdue_1_7d", "overdue_8_30d", "overdue_31d_plus" (days by the scheduling clock).
func (s *Scheduler) Backlog(ctx context.Context, plan string) (map[[2]string]int64, error) {
	today, err := s.clock.Today(ctx)
	if err != nil {
		return nil, err
	}
	open, err := s.store.OpenByDue(ctx, plan, 200_000)
	if err != nil {
		return nil, err
	}
	out := map[[2]string]int64{}
	for _, o := range open {
		kind := taskid.Kind(o.ID)
		if kind == "" {
			kind = "UNKNOWN"
		}
		bucket := "not_due"
		if due := o.Due; !today.IsZero() && due.Before(today) {
			switch late := today.DaysSince(due); {
			case late <= 7:
				bucket = "overdue_1_7d"
			case late <= 30:
				bucket = "overdue_8_30d"
			default:
				bucket = "overdue_31d_plus"
			}
		}
		out[[2]string{kind, bucket}]++
	}
	return out, nil
}
