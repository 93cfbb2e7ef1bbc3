// Package policy decides which interventions a risk tier calls for, with their
// periods and deadlines. This default follows the Part D MTM minimums
// (42 CFR 423.153(d)(1); docs/domain.md section 2): a CMR offered within 60
// days of enrollment in the MTM program, and TMRs at least quarterly.
package policy

import (
	"fmt"
	"time"

	"github.com/emtm/emtm/libs/civil"
)

// Kinds match emtm.scheduling.v1.TaskKind.
const (
	KindCMR           = 1
	KindTMR           = 2
	KindAdherence     = 3
	KindPostDischarge = 4
	KindFollowUp      = 5
)

// KindName names a kind.
func KindName(k int) string {
	switch k {
	case KindCMR:
		return "CMR"
	case KindTMR:
		return "TMR"
	case KindAdherence:
		return "ADHERENCE_OUTREACH"
	case KindPostDischarge:
		return "POST_DISCHARGE"
	case KindFollowUp:
		return "FOLLOW_UP"
	}
	return "UNSPECIFIED"
}

// Task is an intervention to schedule.
type Task struct {
	Kind     int
	Period   string // the scheduling period: at most one open task of a kind per beneficiary and period
	Due      civil.Date
	Priority int
	Reason   string
}

// Tier values match emtm.risk.v1.RiskTier.
const (
	TierLow      = 1
	TierModerate = 2
	TierHigh     = 3
)

// ForTier returns the interventions a tier calls for, dated from the assessment.
// HIGH: a CMR this year, due 60 days after the assessment that placed the
// beneficiary in the program. MODERATE: a TMR this quarter, due at its end.
// LOW: none.
func ForTier(tier int, on civil.Date) []Task {
	switch tier {
	case TierHigh:
		return []Task{{
			Kind: KindCMR, Period: fmt.Sprintf("%d", on.Year), Due: on.AddDays(60), Priority: 3,
			Reason: fmt.Sprintf("high risk on %s: comprehensive medication review within 60 days", on),
		}}
	case TierModerate:
		q := (int(on.Month)-1)/3 + 1
		end := civil.Date{Year: on.Year, Month: time.Month(q * 3), Day: 1}
		end = civil.Of(time.Date(end.Year, end.Month+1, 0, 0, 0, 0, 0, time.UTC)) // last day of the quarter
		return []Task{{
			Kind: KindTMR, Period: fmt.Sprintf("%d-Q%d", on.Year, q), Due: end, Priority: 2,
			Reason: fmt.Sprintf("moderate risk on %s: targeted medication review this quarter", on),
		}}
	}
	return nil
}
