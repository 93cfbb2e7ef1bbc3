package tasks

import (
	"context"
	"errors"
	"time"

	"github.com/emtm/emtm/libs/civil"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
)

// ErrConflict is a change whose task moved on between the read it was decided
// on and its write: nothing was written; read and decide again.
var ErrConflict = errors.New("the task changed since it was read")

// Due is an open task's due date.
type Due struct {
	ID  string
	Due civil.Date
}

// Store is what the scheduler keeps (internal/adapters implements it on
// Redis). It decides nothing: every change is decided here, in Go, and
// written by the store as a whole, only while the state it was decided on holds.
type Store interface {
	// Create stores a new task in its initial state; false when it exists.
	Create(ctx context.Context, t *schedulingv1.InterventionTask, plan string, in Initial) (bool, error)
	// State reads a task's lifecycle state; Apply writes a decided change (ErrConflict: decide again).
	State(ctx context.Context, id string) (State, bool, error)
	Apply(ctx context.Context, c Change) error
	// Ready lists a plan's ready tasks in lease order from offset; Queued counts them.
	Ready(ctx context.Context, plan string, offset, n int64) ([]State, error)
	Queued(ctx context.Context, plan string) (int64, error)
	// CapacityUsed is how many tasks of a kind were leased in a plan's week; ApplyLease writes a decided lease.
	CapacityUsed(ctx context.Context, plan, week, kind string) (int64, error)
	ApplyLease(ctx context.Context, l Lease) error
	// Get reads a task as published, and whether its current version is on the bus.
	Get(ctx context.Context, id string) (t *schedulingv1.InterventionTask, published bool, err error)
	// GetMany reads many tasks at once (nil where there is none), in the order of ids.
	GetMany(ctx context.Context, ids []string) ([]*schedulingv1.InterventionTask, error)
	MarkPublished(ctx context.Context, id string, v int32) error
	// Relay hands up to limit tasks with a change not yet on the bus to publish.
	Relay(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error

	MemberTasks(ctx context.Context, member string) ([]string, error)
	LeasesExpiredBy(ctx context.Context, t time.Time) ([]string, error)
	ExpiringBefore(ctx context.Context, d civil.Date) ([]string, error)
	OverdueBefore(ctx context.Context, d civil.Date) ([]string, error)
	// OpenByDue lists open tasks by due date: a plan's ("<contract>-<pbp>"), or every plan's ("").
	OpenByDue(ctx context.Context, plan string, limit int64) ([]Due, error)
	PlanTasks(ctx context.Context, plan string) ([]string, error)
	AllPlans(ctx context.Context) ([]string, error)
	KindTasks(ctx context.Context, plan, kind string) ([]string, error)
	// Counts are the tasks by status and kind, and how many were ever created: of a plan ("<contract>-<pbp>", planid.Key), or of every plan ("").
	Counts(ctx context.Context, plan string) (map[[2]string]int64, int64, error)

	SetTier(ctx context.Context, member, tier, plan string, on civil.Date) error
	TierHistory(ctx context.Context, member string, from, to civil.Date) ([]TierPoint, error)
	Tier(ctx context.Context, member string) (tier, plan string, err error)
	RecordEncounter(ctx context.Context, member string, e Encounter) error
	Encounters(ctx context.Context, member string, from, to civil.Date) ([]Encounter, error)
	RecordSpan(ctx context.Context, member, id string, sp policy.EnrollmentSpan) error
	Membership(ctx context.Context, member string) (policy.Membership, int64, error)
	SetNextRecurring(ctx context.Context, member string, version int64, next civil.Date, ok bool) error
	RecurringDue(ctx context.Context, today civil.Date, limit int64) (map[string]civil.Date, error)
	RecordDischarge(ctx context.Context, plan, member string, d civil.Date, tier string) error
	MemberDischarges(ctx context.Context, member string, from, to civil.Date) ([]civil.Date, error)
	Discharges(ctx context.Context, plan string, from, to civil.Date) ([]Discharge, error)
}
