package policy

import (
	"fmt"
	"sort"
	"time"

	"github.com/emtm/emtm/libs/civil"
)

// The recurring services of the MTM program (42 CFR 423.153(d)(1)(vii);
// CMS MTM Program Guidance, CY 2024): a member targeted for the program gets
// a CMR offered within 60 days of enrollment in the program and at least
// annually, and TMRs at least quarterly, for as long as the member is in the
// program. In the Enhanced MTM model the sponsor's risk tiers decide who is
// in the program and at which intensity (docs/domain.md section 1); this
// file turns a member's tier history and plan enrollment into the CMR and
// TMR tasks each period calls for, whatever the assessments do after.
//
// The readings emtm chose, for an auditor:
//   - a member is in the program for a kind (CMR or TMR) on a date when a
//     tier held on that date lists the kind. With on_downgrade: stay (the
//     default; CMS: a beneficiary enrolled in the MTM program stays enrolled
//     for the rest of the calendar year even if no longer meeting the
//     criteria) every tier held since January 1 counts, including the tier
//     carried into the year; with leave, only the current tier does;
//   - the program is renewed on January 1 by the tier carried into the new
//     year (the latest assessment before it): a member whose latest tier
//     lists no CMR or TMR leaves the program at the year's end;
//   - the CMR of a year is scheduled on the first day of the year the member
//     is in the program for it (entering: the assessment's date; renewing:
//     January 1), due due_days later (at most 60) and open to December 31;
//     the TMR of a quarter (or month) on its first such day, due at its end;
//   - nothing is scheduled after an enrollment ends (death, disenrollment)
//     until a later span starts; a task open when it ends is cancelled. Days
//     before the first known span count as enrolled: the enrollment feed may
//     start after the claims, and ingestion already refuses a claim dated
//     outside known enrollment.

// OnDowngrade settings.
const (
	Stay  = "stay"
	Leave = "leave"
)

// TierPoint is a member's tier from a date on.
type TierPoint struct {
	On   civil.Date
	Tier string
}

// EnrollmentSpan is a span of plan enrollment.
type EnrollmentSpan struct {
	Start, End civil.Date // End zero: still enrolled
	// Reason the span ended: "deceased", "disenrolled" or "" (open, or an end without a reason).
	Reason string
}

// Membership is what the recurring rules read of one member.
type Membership struct {
	Tiers []TierPoint      // any order
	Spans []EnrollmentSpan // none: enrolled throughout
}

// Enrolled reports whether the member is enrolled on d: in a span, or
// before the first span known (the enrollment feed may start after the
// claims: ingestion holds claims outside known enrollment, and emtm stops
// services only after an enrollment ends), or always when no span is known.
func (m Membership) Enrolled(d civil.Date) bool {
	if len(m.Spans) == 0 {
		return true
	}
	first := m.Spans[0].Start
	for _, s := range m.Spans {
		if !d.Before(s.Start) && (s.End.IsZero() || !d.After(s.End)) {
			return true
		}
		if s.Start.Before(first) {
			first = s.Start
		}
	}
	return d.Before(first)
}

// Leaves returns the last day of enrollment between from and to when the
// member, enrolled on from, is not enrolled on some later day up to to, with
// the reason the span ended.
func (m Membership) Leaves(from, to civil.Date) (civil.Date, string, bool) {
	if !m.Enrolled(from) {
		return civil.Date{}, "", false
	}
	for _, s := range m.Spans {
		if s.End.IsZero() || s.End.Before(from) || !s.End.Before(to) {
			continue
		}
		if !m.Enrolled(s.End.AddDays(1)) {
			return s.End, s.Reason, true
		}
	}
	return civil.Date{}, "", false
}

var tierRank = map[string]int{"LOW": 1, "MODERATE": 2, "HIGH": 3}

// held lists the tiers that decide the program on d, highest first: the
// current one (leave), or every one held since January 1 (stay).
func (p Plan) held(tiers []TierPoint, d civil.Date) []string {
	jan1 := civil.Date{Year: d.Year, Month: time.January, Day: 1}
	carried, current := "", ""
	var year []string
	for _, t := range tiers { // sorted by date
		if t.On.After(d) {
			break
		}
		current = t.Tier
		if t.On.Before(jan1) {
			carried = t.Tier
		} else {
			year = append(year, t.Tier)
		}
	}
	if current == "" {
		return nil
	}
	if p.OnDowngrade == Leave {
		return []string{current}
	}
	out := year
	if carried != "" {
		out = append(out, carried)
	}
	sort.SliceStable(out, func(i, j int) bool { return tierRank[out[i]] > tierRank[out[j]] })
	return out
}

// programLine is the line of kind that applies on d and the tier it comes
// from (the highest held tier that lists the kind).
func (p Plan) programLine(tiers []TierPoint, kind string, d civil.Date) (Intervention, string, bool) {
	for _, t := range p.held(tiers, d) {
		if in, ok := p.line(t, kind); ok {
			return in, t, true
		}
	}
	return Intervention{}, "", false
}

// Recurring lists the CMR and TMR tasks the program calls for from from to
// today (by their scheduled dates), each period's once, in date order.
func (p Plan) Recurring(m Membership, from, today civil.Date) []Spec {
	tiers := append([]TierPoint(nil), m.Tiers...)
	sort.SliceStable(tiers, func(i, j int) bool { return tiers[i].On.Before(tiers[j].On) })
	if len(tiers) == 0 {
		return nil
	}
	first := tiers[0].On
	var out []Spec
	seen := map[string]bool{}
	for y := first.Year; y <= today.Year; y++ {
		for _, d := range p.candidates(m, tiers, y, first, today) {
			if !m.Enrolled(d) {
				continue
			}
			for _, kind := range []string{CMR, TMR} {
				in, tier, ok := p.programLine(tiers, kind, d)
				if !ok {
					continue
				}
				sp := p.recurringSpec(kind, in, tier, d, tiers)
				sp.Tier = tier
				if seen[kind+"/"+sp.Period] {
					continue
				}
				seen[kind+"/"+sp.Period] = true
				if !sp.ScheduledOn.Before(from) {
					out = append(out, sp)
				}
			}
		}
	}
	return out
}

// candidates are the days of year y on which a recurring task can start:
// January 1, the first day of every month, the days of tier changes and of
// enrollment starts; from first (the first assessment) to today.
func (p Plan) candidates(m Membership, tiers []TierPoint, y int, first, today civil.Date) []civil.Date {
	set := map[civil.Date]bool{}
	for mo := time.January; mo <= time.December; mo++ {
		set[civil.Date{Year: y, Month: mo, Day: 1}] = true
	}
	for _, t := range tiers {
		if t.On.Year == y {
			set[t.On] = true
		}
	}
	for _, s := range m.Spans {
		if s.Start.Year == y {
			set[s.Start] = true
		}
	}
	out := make([]civil.Date, 0, len(set))
	for d := range set {
		if !d.Before(first) && !d.After(today) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func (p Plan) recurringSpec(kind string, in Intervention, tier string, d civil.Date, tiers []TierPoint) Spec {
	if kind == CMR {
		s := p.spec(CMR, fmt.Sprintf("%d", d.Year), d, d.AddDays(in.DueDays), in.Priority,
			fmt.Sprintf("%s risk: in the MTM program from %s, comprehensive medication review within %d days", tier, d, in.DueDays))
		if d.Month == time.January && d.Day == 1 && p.inProgramBefore(tiers, CMR, d) {
			s.Reason = fmt.Sprintf("%s risk: in the MTM program in %d, the annual comprehensive medication review (due within %d days)", tier, d.Year, in.DueDays)
		}
		// The annual CMR is open until the year ends at the earliest.
		if end := (civil.Date{Year: d.Year, Month: time.December, Day: 31}); s.Expires.Before(end) {
			s.Expires = end
		}
		return s
	}
	period, end := quarter(d)
	if in.Every == "month" {
		period, end = month(d)
	}
	return p.spec(TMR, period, d, end, in.Priority, fmt.Sprintf("%s risk: targeted medication review for %s", tier, period))
}

// inProgramBefore reports whether the member was in the program for kind on
// the day before d.
func (p Plan) inProgramBefore(tiers []TierPoint, kind string, d civil.Date) bool {
	_, _, ok := p.programLine(tiers, kind, d.AddDays(-1))
	return ok
}

// NextRecurring is the first day after today on which Recurring would add a
// task, looking up to the next January 1 (false: none without a new
// assessment or enrollment).
func (p Plan) NextRecurring(m Membership, today civil.Date) (civil.Date, bool) {
	next := civil.Date{Year: today.Year, Month: today.Month, Day: 1}
	for i := 0; i < 13; i++ {
		next = civil.Of(time.Date(next.Year, next.Month+1, 1, 0, 0, 0, 0, time.UTC))
		for _, sp := range p.Recurring(m, next, next) {
			if sp.ScheduledOn == next {
				return next, true
			}
		}
	}
	return civil.Date{}, false
}
