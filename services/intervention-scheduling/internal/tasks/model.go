package tasks

import (
	"errors"
	"slices"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
)

// Statuses as stored.
const (
	Scheduled = "SCHEDULED"
	Leased    = "LEASED"
	Completed = "COMPLETED"
	Cancelled = "CANCELLED"
	Expired   = "EXPIRED"
	// Declined: the member declined the offered service (a closed CMR, not a missed one).
	Declined = "DECLINED"
)

// Open lists the statuses of a task that still has to be done.
const Open = Scheduled + "," + Leased

// Initial is a new task's state: its status and, for a task created after
// the facts that decide it (an encounter, the end of enrollment), why.
type Initial struct {
	Status      string
	CompletedBy string
	CompletedOn civil.Date
	Reason      string
	Attempts    []Attempt
}

// ErrNotFound: no task has the id.
var ErrNotFound = errors.New("no such task")

// NotAllowedError is a transition the task's state does not allow.
type NotAllowedError struct{ Reason string }

func (e NotAllowedError) Error() string { return e.Reason }

// Attempt is an encounter that did not complete a task, recorded on it.
type Attempt struct {
	Encounter string
	Date      civil.Date
	Outcome   encountersv1.EncounterOutcome
}

// Offer reports whether the attempt offered the service: offered or declined
// (an unreached member was not offered it).
func (a Attempt) Offer() bool {
	return a.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_OFFERED || a.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED
}

// TierPoint is a member's tier from a date on.
type TierPoint struct {
	On   civil.Date
	Tier string
}

// Encounter is an MTM encounter as scheduling keeps it.
type Encounter struct {
	ID              string
	Date            civil.Date
	Codes           []string
	Found, Resolved int
	Outcome         encountersv1.EncounterOutcome
}

// Completed reports whether the encounter delivered its services.
func (e Encounter) Completed() bool {
	return e.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED
}

// Discharge is a recorded inpatient discharge.
type Discharge struct {
	Member string
	Date   civil.Date
	Tier   string
}

// ReadyScore orders ready tasks: higher priority first, then earlier due date.
func ReadyScore(priority int, due civil.Date) float64 {
	return float64(priority)*1e8 + float64(99999999-due.YMD())
}

// State is a task's lifecycle state as stored: what the rules decide on.
type State struct {
	ID, Kind, Plan string
	Status         string
	Priority       int
	Due, Expires   civil.Date
	// Worker holds the lease; Capacity names the week's capacity it used (to give back).
	Worker, Capacity string
	// Attempts are the encounters recorded on the task.
	Attempts []Attempt
	// Version counts the changes; a change decided on it is written only while it holds.
	Version string
}

// Edit is what a transition changes besides the status; zero values keep.
type Edit struct {
	Priority    int
	Due         civil.Date
	Reason      *string
	CompletedBy string
	CompletedOn civil.Date
	Attempt     *Attempt
}

// Reason is an Edit's status reason.
func Reason(s string) *string { return &s }

// Change is a decided transition of one task: the store writes it as a whole
// or, when the task moved on meanwhile, not at all (ErrConflict).
type Change struct {
	From State
	// To is the status after; Priority and Due the values after.
	To       string
	Priority int
	Due      civil.Date
	Edit     Edit
	// EndsLease: the task leaves LEASED (its worker and lease are cleared);
	// ReturnsCapacity: the week's capacity it used is given back.
	EndsLease, ReturnsCapacity bool
}

// IsOpen reports whether a status still has work to do (Open lists them).
func IsOpen(status string) bool { return status == Scheduled || status == Leased }

// Move decides whether the task may go from one of the statuses in from
// (comma-separated) to to ("" keeps its status) on behalf of worker ("" for
// the system), and what changes: the lifecycle's rules.
//   - only a task in one of the from statuses moves;
//   - a leased task is moved by its own worker only, when a worker is named;
//   - leaving LEASED ends the lease, and gives the week's capacity back when
//     giveBack (a release, an expired lease, a cancellation; not a completion,
//     which used the capacity).
func (st State) Move(from, to, worker string, giveBack bool, e Edit) (Change, error) {
	if !slices.Contains(strings.Split(from, ","), st.Status) {
		return Change{}, NotAllowedError{Reason: "the task is " + st.Status}
	}
	if worker != "" && st.Status == Leased && st.Worker != worker {
		return Change{}, NotAllowedError{Reason: "the task is leased by another worker"}
	}
	if to == "" {
		to = st.Status
	}
	c := Change{From: st, To: to, Priority: st.Priority, Due: st.Due, Edit: e}
	if e.Priority != 0 {
		c.Priority = e.Priority
	}
	if !e.Due.IsZero() {
		c.Due = e.Due
	}
	c.EndsLease = st.Status == Leased && to != Leased
	c.ReturnsCapacity = c.EndsLease && giveBack && st.Capacity != ""
	return c, nil
}

// Lease is a decided lease of a ready task to a worker, counted against the
// week's capacity of its kind as it was read (Used).
type Lease struct {
	From   State
	Worker string
	Until  int64 // unix ms
	Week   string
	Used   int64
}

// MayLease decides whether a ready task may be leased now: its kind is among
// kinds (none: any), and its kind's weekly capacity (none: unlimited) is not used up.
func (st State) MayLease(kinds []string, capacity map[string]int, used int64) bool {
	if len(kinds) > 0 && !slices.Contains(kinds, st.Kind) {
		return false
	}
	c, capped := capacity[st.Kind]
	return !capped || used < int64(c)
}
