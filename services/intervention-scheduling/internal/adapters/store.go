// Package adapters keeps intervention-scheduling's state in Redis and
// implements tasks.Store. Every task's state is one hash; sets and sorted
// sets index it. Every key is built by one function below and passed to
// Redis in KEYS; the rules that decide a change are in package tasks, and a
// change is written by redisx.Commit only while the task is at the version
// it was decided on.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/civil"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/outbox"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// Redis keys. Every task's state is one hash; the sets and sorted sets index
// it. A task's keys, its member's, and the indexes and counters a change of
// them updates carry the hash tag of the member's partition, so that a
// change is written in one Redis Cluster slot; indexes and counters exist per
// partition and are merged or summed on read. A task id names its member
// (taskid.Member), so an id alone finds its keys. A plan's weekly capacity is
// shared by every partition: it is counted in a slot of its own, reserved
// before a lease is written and given back after (see ApplyLease).
func (s *Store) tag(member string) string { return s.parts.Of(member) }
func (s *Store) taskTag(id string) string { return s.tag(taskid.Member(id)) }

// Of a partition (tag):
func leasedKey(tag string) string           { return "is:" + tag + ":leased" }          // zset: task id by lease expiry (unix ms)
func dueKey(tag string) string              { return "is:" + tag + ":due" }             // zset: open task ids by due date (YYYYMMDD)
func planDueKey(tag, plan string) string    { return "is:" + tag + ":pdue:" + plan }    // zset: a plan's open task ids by due date
func expireKey(tag string) string           { return "is:" + tag + ":expire" }          // zset: open task ids by expiry date (YYYYMMDD)
func unpubKey(tag string) string            { return "is:" + tag + ":unpub" }           // set: tasks with a change not yet published
func scheduledKey(tag string) string        { return "is:" + tag + ":count:scheduled" } // tasks ever created
func recurKey(tag string) string            { return "is:" + tag + ":recur" }           // zset: members by the next day a recurring task starts (YYYYMMDD)
func recurVerKey(tag string) string         { return "is:" + tag + ":recurv" }          // hash: member -> the membership version recur was computed from
func plansKey(tag string) string            { return "is:" + tag + ":plans" }           // set: plans with tasks
func planKey(tag, plan string) string       { return "is:" + tag + ":plan:" + plan }    // zset: a plan's task ids by due date
func readyKey(tag, plan string) string      { return "is:" + tag + ":ready:" + plan }   // zset: ready task ids by ReadyScore
func kindKey(tag, plan, kind string) string { return "is:" + tag + ":kind:" + plan + ":" + kind }
func dischKey(tag, plan string) string      { return "is:" + tag + ":disch:" + plan }
func countKey(tag, status, kind string) string {
	return "is:" + tag + ":count:" + status + ":" + kind
}
func planCountKey(tag, plan string) string { return "is:" + tag + ":pcount:" + plan } // hash: "<status>:<kind>" -> tasks, and "created"

// counted moves one task of kind from status from (none: a new task) to
// status to, in the partition's and the plan's counters.
func counted(tag, plan, kind, from, to string) []redisx.Op {
	var ops []redisx.Op
	if from == "" {
		ops = append(ops, redisx.IncrBy(scheduledKey(tag), 1), redisx.HIncrBy(planCountKey(tag, plan), "created", 1))
	} else {
		ops = append(ops, redisx.IncrBy(countKey(tag, from, kind), -1), redisx.HIncrBy(planCountKey(tag, plan), from+":"+kind, -1))
	}
	return append(ops, redisx.IncrBy(countKey(tag, to, kind), 1), redisx.HIncrBy(planCountKey(tag, plan), to+":"+kind, 1))
}

// Of a task or a member, in the member's partition:
func (s *Store) taskKey(id string) string         { return "is:" + s.taskTag(id) + ":task:" + id }
func (s *Store) memberKey(m string) string        { return "is:" + s.tag(m) + ":member:" + m }
func (s *Store) tierKey(m string) string          { return "is:" + s.tag(m) + ":tier:" + m }
func (s *Store) tierHistKey(m string) string      { return "is:" + s.tag(m) + ":tiers:" + m }
func (s *Store) encKey(m string) string           { return "is:" + s.tag(m) + ":enc:" + m }
func (s *Store) memberDischKey(m string) string   { return "is:" + s.tag(m) + ":dischm:" + m }
func (s *Store) spansKey(m string) string         { return "is:" + s.tag(m) + ":spans:" + m }
func (s *Store) membershipVerKey(m string) string { return "is:" + s.tag(m) + ":mv:" + m }

// Of a plan's weekly capacity, in the plan's own slot: the count of a kind's
// leases in a week, and the tasks holding a part of it (task id -> "leased").
func capacityKey(plan, week, kind string) string {
	return "is:{cap:" + plan + "}:cap:" + week + ":" + kind
}
func reservedKey(capacityKey string) string { return capacityKey + ":held" }

func ymd(d civil.Date) int        { return d.YMD() }
func fromYMD(s string) civil.Date { return civil.FromYMD(s) }

// Store keeps tasks in Redis.
type Store struct {
	rdb   redis.UniversalClient
	parts redisx.Partitions
	box   outbox.Outbox // tasks with a change not yet on the bus
}

// NewStore returns a Store for a deployment of partitions partitions.
func NewStore(rdb redis.UniversalClient, partitions int) *Store {
	s := &Store{rdb: rdb, parts: redisx.Partitions(partitions)}
	var sets []string
	for _, tag := range s.parts.All() {
		sets = append(sets, unpubKey(tag))
	}
	s.box = outbox.New(rdb, func(id string) string { return unpubKey(s.taskTag(id)) }, sets, s.taskKey)
	return s
}

// Create implements tasks.Store: the task and its indexes, unless it exists.
func (s *Store) Create(ctx context.Context, t *schedulingv1.InterventionTask, plan string, in tasks.Initial) (bool, error) {
	pb, err := proto.Marshal(t)
	if err != nil {
		return false, err
	}
	kind := enums.Name(t.Kind)
	due, exp := civil.FromProto(t.DueDate), civil.FromProto(t.ExpiresOn)
	tk, tag := s.taskKey(t.TaskId), s.tag(t.MemberId)
	if s.taskTag(t.TaskId) != tag {
		return false, errors.New("create task: the task id does not name the task's member") // ids carry member ids: not in errors
	}
	fields := []any{"pb", pb, "kind", kind, "plan", plan, "member", t.MemberId, "prio", t.Priority,
		"due", ymd(due), "expires", ymd(exp), "status", in.Status, "cby", in.CompletedBy, "con", ymd(in.CompletedOn),
		"sreason", in.Reason, "v", 1, "pub", 0}
	for _, a := range in.Attempts {
		fields = append(fields, attemptField(a), attemptValue(a))
	}
	ops := []redisx.Op{redisx.HSet(tk, fields...), redisx.SAdd(s.memberKey(t.MemberId), t.TaskId), redisx.SAdd(plansKey(tag), plan),
		redisx.ZAdd(planKey(tag, plan), float64(ymd(due)), t.TaskId), redisx.SAdd(kindKey(tag, plan, kind), t.TaskId)}
	if in.Status == tasks.Scheduled {
		ops = append(ops, redisx.ZAdd(readyKey(tag, plan), tasks.ReadyScore(int(t.Priority), due), t.TaskId),
			redisx.ZAdd(dueKey(tag), float64(ymd(due)), t.TaskId), redisx.ZAdd(planDueKey(tag, plan), float64(ymd(due)), t.TaskId),
			redisx.ZAdd(expireKey(tag), float64(ymd(exp)), t.TaskId))
	}
	ops = append(ops, counted(tag, plan, kind, "", in.Status)...)
	ops = append(ops, redisx.SAdd(s.box.Unpublished(t.TaskId), t.TaskId))
	err = redisx.Commit(ctx, s.rdb, []redisx.Guard{redisx.Absent(tk)}, ops...)
	if errors.Is(err, redisx.ErrGuard) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create task: %w", err)
	}
	return true, nil
}

// State implements tasks.Store.
func (s *Store) State(ctx context.Context, id string) (tasks.State, bool, error) {
	h, err := s.rdb.HGetAll(ctx, s.taskKey(id)).Result()
	if err != nil || len(h) == 0 {
		return tasks.State{}, false, err
	}
	return stateOf(id, h), true, nil
}

func stateOf(id string, h map[string]string) tasks.State {
	prio, _ := strconv.Atoi(h["prio"])
	st := tasks.State{ID: id, Kind: h["kind"], Plan: h["plan"], Status: h["status"], Priority: prio,
		Due: fromYMD(h["due"]), Expires: fromYMD(h["expires"]), Worker: h["worker"], Capacity: h["capkey"], Version: h["v"]}
	for k, v := range h {
		if a, ok := parseAttempt(k, v); ok {
			st.Attempts = append(st.Attempts, a)
		}
	}
	return st
}

// Apply implements tasks.Store: it writes a decided transition with its
// indexes and counters, the version bumped and the task queued for
// publishing, if the task is still at the version it was decided on; then,
// if the change gives the lease's capacity back, it gives it back.
func (s *Store) Apply(ctx context.Context, c tasks.Change) error {
	st, id := c.From, c.From.ID
	tk, tag := s.taskKey(id), s.taskTag(id)
	var ops []redisx.Op
	if c.EndsLease {
		ops = append(ops, redisx.ZRem(leasedKey(tag), id))
		ops = append(ops, redisx.HSet(tk, "worker", "", "lease_exp", 0, "capkey", ""))
	}
	if st.Status == tasks.Scheduled {
		ops = append(ops, redisx.ZRem(readyKey(tag, st.Plan), id))
	}
	fields := []any{"prio", c.Priority, "due", ymd(c.Due), "status", c.To}
	if c.Edit.Reason != nil {
		fields = append(fields, "sreason", *c.Edit.Reason)
	}
	if c.Edit.CompletedBy != "" {
		fields = append(fields, "cby", c.Edit.CompletedBy, "con", ymd(c.Edit.CompletedOn))
	}
	if a := c.Edit.Attempt; a != nil {
		fields = append(fields, attemptField(*a), attemptValue(*a))
	}
	ops = append(ops, redisx.HSet(tk, fields...))
	due := float64(ymd(c.Due))
	if tasks.IsOpen(c.To) {
		ops = append(ops, redisx.ZAdd(dueKey(tag), due, id), redisx.ZAdd(planDueKey(tag, st.Plan), due, id),
			redisx.ZAdd(expireKey(tag), float64(ymd(st.Expires)), id), redisx.ZAdd(planKey(tag, st.Plan), due, id))
		if c.To == tasks.Scheduled {
			ops = append(ops, redisx.ZAdd(readyKey(tag, st.Plan), tasks.ReadyScore(c.Priority, c.Due), id))
		}
	} else {
		ops = append(ops, redisx.ZRem(dueKey(tag), id), redisx.ZRem(planDueKey(tag, st.Plan), id), redisx.ZRem(expireKey(tag), id))
	}
	if st.Status != c.To {
		ops = append(ops, counted(tag, st.Plan, st.Kind, st.Status, c.To)...)
	}
	ops = append(ops, redisx.HIncrBy(tk, "v", 1), redisx.SAdd(s.box.Unpublished(id), id))
	if err := commit(ctx, s.rdb, []redisx.Guard{redisx.FieldIs(tk, "v", st.Version)}, ops...); err != nil {
		return err
	}
	if c.ReturnsCapacity {
		return s.giveBack(ctx, st.Capacity, id)
	}
	return nil
}

// giveBack returns the part of a week's capacity task id held, once: only
// while the task is still listed as holding it. A crash between a change and
// its give-back leaves the part held until the counter expires (two weeks):
// capacity is then under-used, never over-used.
func (s *Store) giveBack(ctx context.Context, capacityKey, id string) error {
	err := redisx.Commit(ctx, s.rdb, []redisx.Guard{redisx.FieldIs(reservedKey(capacityKey), id, held)},
		redisx.IncrBy(capacityKey, -1), redisx.HDel(reservedKey(capacityKey), id))
	if errors.Is(err, redisx.ErrGuard) {
		return nil // given back already
	}
	return err
}

// held marks a task holding a part of a week's capacity.
const held = "leased"

// commit writes ops under guards; a guard that no longer holds is tasks.ErrConflict.
func commit(ctx context.Context, rdb redis.UniversalClient, guards []redisx.Guard, ops ...redisx.Op) error {
	err := redisx.Commit(ctx, rdb, guards, ops...)
	if errors.Is(err, redisx.ErrGuard) {
		return fmt.Errorf("%w: %v", tasks.ErrConflict, err)
	}
	return err
}

// capacityTTL keeps a week's capacity counter two weeks.
const capacityTTL = 14 * 24 * time.Hour

// Ready implements tasks.Store: ready tasks of a plan in lease order
// (highest ReadyScore first, then the highest id, as one sorted set would
// give them), from offset, up to n, merged from every partition.
func (s *Store) Ready(ctx context.Context, plan string, offset, n int64) ([]tasks.State, error) {
	tags := s.parts.All()
	zcmds := make([]*redis.ZSliceCmd, len(tags))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tags {
			zcmds[i] = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: readyKey(t, plan), Start: 0, Stop: offset + n - 1, Rev: true})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var all []redis.Z
	for _, c := range zcmds {
		all = append(all, c.Val()...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Score != all[j].Score {
			return all[i].Score > all[j].Score
		}
		a, _ := all[i].Member.(string)
		b, _ := all[j].Member.(string)
		return a > b
	})
	if offset >= int64(len(all)) {
		return nil, nil
	}
	all = all[offset:min(int64(len(all)), offset+n)]
	ids := make([]string, len(all))
	for i, z := range all {
		ids[i], _ = z.Member.(string)
	}
	// The lifecycle fields only: a ready task's attempts and payload do not decide a lease.
	fields := []string{"kind", "plan", "status", "prio", "due", "expires", "worker", "capkey", "v"}
	cmds := make([]*redis.SliceCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.taskKey(id), fields...)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]tasks.State, 0, len(ids))
	for i, id := range ids {
		h := map[string]string{}
		for j, v := range cmds[i].Val() {
			if str, ok := v.(string); ok {
				h[fields[j]] = str
			}
		}
		if h["v"] != "" {
			out = append(out, stateOf(id, h))
		}
	}
	return out, nil
}

// Queued implements tasks.Store: summed over every partition.
func (s *Store) Queued(ctx context.Context, plan string) (int64, error) {
	var n int64
	for _, tag := range s.parts.All() {
		c, err := s.rdb.ZCard(ctx, readyKey(tag, plan)).Result()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// CapacityUsed implements tasks.Store.
func (s *Store) CapacityUsed(ctx context.Context, plan, week, kind string) (int64, error) {
	n, err := s.rdb.Get(ctx, capacityKey(plan, week, kind)).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// ApplyLease implements tasks.Store: the task leaves the ready queue for the
// worker, and its kind's weekly capacity counts it, if neither the task nor
// the capacity used changed since they were read. The capacity (the plan's
// slot) is reserved first, only while it is as read; then the lease (the
// member's slot) is written, only while the task is as read; a lease that
// cannot be written gives its reservation back.
func (s *Store) ApplyLease(ctx context.Context, l tasks.Lease) error {
	st, id := l.From, l.From.ID
	tk, tag, ck := s.taskKey(id), s.taskTag(id), capacityKey(st.Plan, l.Week, st.Kind)
	if err := commit(ctx, s.rdb, []redisx.Guard{redisx.CountIs(ck, l.Used), redisx.FieldIs(reservedKey(ck), id, "")},
		redisx.IncrBy(ck, 1), redisx.PExpire(ck, capacityTTL),
		redisx.HSet(reservedKey(ck), id, held), redisx.PExpire(reservedKey(ck), capacityTTL)); err != nil {
		return err
	}
	ops := append([]redisx.Op{redisx.ZRem(readyKey(tag, st.Plan), id), redisx.ZAdd(leasedKey(tag), float64(l.Until), id),
		redisx.HSet(tk, "status", tasks.Leased, "worker", l.Worker, "lease_exp", l.Until, "capkey", ck)},
		counted(tag, st.Plan, st.Kind, tasks.Scheduled, tasks.Leased)...)
	err := commit(ctx, s.rdb, []redisx.Guard{redisx.FieldIs(tk, "v", st.Version), redisx.FieldIs(tk, "status", tasks.Scheduled)},
		append(ops, redisx.HIncrBy(tk, "v", 1), redisx.SAdd(s.box.Unpublished(id), id))...)
	if err != nil {
		if gerr := s.giveBack(ctx, ck, id); gerr != nil {
			return errors.Join(err, gerr)
		}
		return err
	}
	return nil
}

// Get reads a task: its static part and its current state.
func (s *Store) Get(ctx context.Context, id string) (t *schedulingv1.InterventionTask, published bool, err error) {
	h, err := s.rdb.HGetAll(ctx, s.taskKey(id)).Result()
	if err != nil {
		return nil, false, err
	}
	return taskOf(id, h)
}

// GetMany implements tasks.Store: the tasks of ids (nil where there is none), 500 a round trip.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]*schedulingv1.InterventionTask, error) {
	out := make([]*schedulingv1.InterventionTask, 0, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		cmds := make([]*redis.MapStringStringCmd, len(chunk))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = p.HGetAll(ctx, s.taskKey(id))
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for i, c := range cmds {
			t, _, err := taskOf(chunk[i], c.Val())
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// taskOf reads a task from its stored hash (nil for an empty one).
func taskOf(id string, h map[string]string) (t *schedulingv1.InterventionTask, published bool, err error) {
	if len(h) == 0 {
		return nil, false, nil
	}
	t = &schedulingv1.InterventionTask{}
	if err := proto.Unmarshal([]byte(h["pb"]), t); err != nil {
		return nil, false, fmt.Errorf("task %s unreadable: %w", id, err)
	}
	t.Status = enums.Of[schedulingv1.TaskStatus](h["status"])
	p, _ := strconv.Atoi(h["prio"])
	t.Priority = int32(p)
	t.DueDate = fromYMD(h["due"]).Proto()
	t.ExpiresOn = fromYMD(h["expires"]).Proto()
	t.LeaseWorker = h["worker"]
	if ms, _ := strconv.ParseInt(h["lease_exp"], 10, 64); ms > 0 {
		t.LeaseExpiresAt = timestamppb.New(time.UnixMilli(ms))
	}
	t.CompletedBy = h["cby"]
	t.CompletedOn = fromYMD(h["con"]).Proto()
	t.StatusReason = h["sreason"]
	v, _ := strconv.Atoi(h["v"])
	t.Version = int32(v)
	offered := civil.Date{}
	if t.Status == schedulingv1.TaskStatus_TASK_STATUS_COMPLETED {
		offered = civil.FromProto(t.CompletedOn)
	}
	for k, val := range h {
		a, ok := parseAttempt(k, val)
		if !ok {
			continue
		}
		t.Attempts = append(t.Attempts, &schedulingv1.ContactAttempt{EncounterId: a.Encounter, Date: a.Date.Proto(), Outcome: a.Outcome})
		if a.Offer() && (offered.IsZero() || a.Date.Before(offered)) {
			offered = a.Date
		}
	}
	sort.Slice(t.Attempts, func(i, j int) bool {
		a, b := civil.FromProto(t.Attempts[i].Date), civil.FromProto(t.Attempts[j].Date)
		if a != b {
			return a.Before(b)
		}
		return t.Attempts[i].EncounterId < t.Attempts[j].EncounterId
	})
	t.OfferedOn = offered.Proto()
	return t, h[outbox.FieldPublished] == h[outbox.FieldVersion], nil
}

// attemptPrefix is the task hash field of an attempt: att:<encounter id> -> YYYYMMDD|OUTCOME.
const attemptPrefix = "att:"

func attemptField(a tasks.Attempt) string { return attemptPrefix + a.Encounter }
func attemptValue(a tasks.Attempt) string {
	return strconv.Itoa(ymd(a.Date)) + "|" + enums.Name(a.Outcome)
}

func parseAttempt(field, value string) (tasks.Attempt, bool) {
	id, ok := strings.CutPrefix(field, attemptPrefix)
	if !ok {
		return tasks.Attempt{}, false
	}
	day, outcome, _ := strings.Cut(value, "|")
	return tasks.Attempt{Encounter: id, Date: fromYMD(day), Outcome: enums.Of[encountersv1.EncounterOutcome](outcome)}, true
}

// MarkPublished records that version v of a task is on the bus.
func (s *Store) MarkPublished(ctx context.Context, id string, v int32) error {
	return s.box.MarkPublished(ctx, id, v)
}

// Relay hands up to limit tasks with a change not yet on the bus to publish.
func (s *Store) Relay(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error {
	return s.box.Relay(ctx, limit, publish)
}

// MemberTasks lists a member's task ids.
func (s *Store) MemberTasks(ctx context.Context, member string) ([]string, error) {
	return s.rdb.SMembers(ctx, s.memberKey(member)).Result()
}

// LeasesExpiredBy lists leased tasks whose lease ended before t.
func (s *Store) LeasesExpiredBy(ctx context.Context, t time.Time) ([]string, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, leasedKey, "-inf", strconv.FormatInt(t.UnixMilli(), 10), 1000)
	return redisx.Members(zs), err
}

// ExpiringBefore lists open tasks whose expiry date is before d.
func (s *Store) ExpiringBefore(ctx context.Context, d civil.Date) ([]string, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, expireKey, "-inf", "("+strconv.Itoa(ymd(d)), 1000)
	return redisx.Members(zs), err
}

// OverdueBefore lists open tasks due before d.
func (s *Store) OverdueBefore(ctx context.Context, d civil.Date) ([]string, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, dueKey, "-inf", "("+strconv.Itoa(ymd(d)), 0)
	return redisx.Members(zs), err
}

// PlanTasks lists a plan's task ids by due date.
func (s *Store) PlanTasks(ctx context.Context, plan string) ([]string, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, func(tag string) string { return planKey(tag, plan) }, "-inf", "+inf", 0)
	return redisx.Members(zs), err
}

// AllPlans lists the plans with tasks.
func (s *Store) AllPlans(ctx context.Context) ([]string, error) {
	all, err := s.parts.Union(ctx, s.rdb, plansKey)
	if err != nil {
		return nil, err
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// KindTasks lists a plan's task ids of a kind.
func (s *Store) KindTasks(ctx context.Context, plan, kind string) ([]string, error) {
	return s.parts.Union(ctx, s.rdb, func(tag string) string { return kindKey(tag, plan, kind) })
}

// SetTier records a member's tier as of a date (its history) and the member's
// plan, and bumps the member's membership version.
func (s *Store) SetTier(ctx context.Context, member, tier, plan string, on civil.Date) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.tierKey(member), tier+"|"+plan, 0)
		day := strconv.Itoa(ymd(on))
		p.ZRemRangeByScore(ctx, s.tierHistKey(member), day, day)
		p.ZAdd(ctx, s.tierHistKey(member), redis.Z{Score: float64(ymd(on)), Member: day + "|" + tier})
		p.Incr(ctx, s.membershipVerKey(member))
		return nil
	})
	return err
}

// TierHistory lists the tier points dated from..to, with the last point before from.
func (s *Store) TierHistory(ctx context.Context, member string, from, to civil.Date) ([]tasks.TierPoint, error) {
	read := func(by *redis.ZRangeBy, rev bool) ([]string, error) {
		args := redis.ZRangeArgs{Key: s.tierHistKey(member), ByScore: true, Start: by.Min, Stop: by.Max, Offset: by.Offset, Count: by.Count}
		if rev { // ZRANGE key max min BYSCORE REV
			args.Rev, args.Start, args.Stop = true, by.Max, by.Min
		}
		return s.rdb.ZRangeArgs(ctx, args).Result()
	}
	before, err := read(&redis.ZRangeBy{Min: "-inf", Max: "(" + strconv.Itoa(ymd(from)), Count: 1}, true)
	if err != nil {
		return nil, err
	}
	in, err := read(&redis.ZRangeBy{Min: strconv.Itoa(ymd(from)), Max: strconv.Itoa(ymd(to))}, false)
	if err != nil {
		return nil, err
	}
	var out []tasks.TierPoint
	for _, v := range append(before, in...) {
		day, tier, _ := strings.Cut(v, "|")
		out = append(out, tasks.TierPoint{On: fromYMD(day), Tier: tier})
	}
	return out, nil
}

// Tier reads a member's current tier and plan ("" when unknown).
func (s *Store) Tier(ctx context.Context, member string) (tier, plan string, err error) {
	v, err := s.rdb.Get(ctx, s.tierKey(member)).Result()
	if err == redis.Nil {
		return "", "", nil
	}
	tier, plan, _ = strings.Cut(v, "|")
	return tier, plan, err
}

// RecordEncounter keeps a member's encounter (idempotent).
func (s *Store) RecordEncounter(ctx context.Context, member string, e tasks.Encounter) error {
	v := fmt.Sprintf("%s|%s|%d|%d", e.ID, strings.Join(e.Codes, ","), e.Found, e.Resolved)
	if !e.Completed() {
		v += "|" + enums.Name(e.Outcome)
	}
	return s.rdb.ZAdd(ctx, s.encKey(member), redis.Z{Score: float64(ymd(e.Date)), Member: v}).Err()
}

// Encounters lists a member's encounters (of every outcome) dated from..to.
func (s *Store) Encounters(ctx context.Context, member string, from, to civil.Date) ([]tasks.Encounter, error) {
	vals, err := s.rdb.ZRangeByScoreWithScores(ctx, s.encKey(member), &redis.ZRangeBy{Min: strconv.Itoa(ymd(from)), Max: strconv.Itoa(ymd(to))}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]tasks.Encounter, 0, len(vals))
	for _, z := range vals {
		parts := strings.Split(z.Member.(string), "|")
		if len(parts) != 4 && len(parts) != 5 {
			continue
		}
		f, _ := strconv.Atoi(parts[2])
		r, _ := strconv.Atoi(parts[3])
		outcome := encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED
		if len(parts) == 5 {
			outcome = enums.Of[encountersv1.EncounterOutcome](parts[4])
		}
		out = append(out, tasks.Encounter{ID: parts[0], Date: fromYMD(strconv.Itoa(int(z.Score))), Codes: strings.Split(parts[1], ","), Found: f, Resolved: r, Outcome: outcome})
	}
	return out, nil
}

// RecordSpan keeps a span of plan enrollment (a later version of the same
// enrollment id replaces it).
func (s *Store) RecordSpan(ctx context.Context, member, id string, sp policy.EnrollmentSpan) error {
	v := fmt.Sprintf("%d|%d|%s", ymd(sp.Start), ymd(sp.End), sp.Reason)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.spansKey(member), id, v)
		p.Incr(ctx, s.membershipVerKey(member))
		return nil
	})
	return err
}

// Membership reads what the recurring rules need of a member: every tier
// point, every enrollment span, and the version of the two (one round trip).
func (s *Store) Membership(ctx context.Context, member string) (policy.Membership, int64, error) {
	var m policy.Membership
	var points *redis.StringSliceCmd
	var spansCmd *redis.MapStringStringCmd
	var ver *redis.StringCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		points = p.ZRange(ctx, s.tierHistKey(member), 0, -1)
		spansCmd = p.HGetAll(ctx, s.spansKey(member))
		ver = p.Get(ctx, s.membershipVerKey(member))
		return nil
	}); err != nil && err != redis.Nil {
		return m, 0, err
	}
	version, _ := ver.Int64()
	for _, v := range points.Val() {
		day, tier, _ := strings.Cut(v, "|")
		m.Tiers = append(m.Tiers, policy.TierPoint{On: fromYMD(day), Tier: tier})
	}
	for _, v := range spansCmd.Val() {
		parts := strings.SplitN(v, "|", 3)
		if len(parts) != 3 {
			continue
		}
		m.Spans = append(m.Spans, policy.EnrollmentSpan{Start: fromYMD(parts[0]), End: fromYMD(parts[1]), Reason: parts[2]})
	}
	sort.Slice(m.Spans, func(i, j int) bool { return m.Spans[i].Start.Before(m.Spans[j].Start) })
	return m, version, nil
}

// setNextRecurring writes a member's next recurring day unless it was
// computed from an older membership than the one last written (a handler
// of another stream, or the sweep, read the member before a change).
// KEYS: the member's partition's recur and recurv. ARGV: member, version, next (YYYYMMDD, "" for none).
var setNextRecurring = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if tonumber(ARGV[2]) < cur then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
`)

// SetNextRecurring records the next day a recurring task of the member
// starts (ok false: none; the member leaves the sweep's list), as computed
// from the membership of the given version.
func (s *Store) SetNextRecurring(ctx context.Context, member string, version int64, next civil.Date, ok bool) error {
	day := ""
	if ok {
		day = strconv.Itoa(ymd(next))
	}
	tag := s.tag(member)
	return setNextRecurring.Run(ctx, s.rdb, []string{recurKey(tag), recurVerKey(tag)}, member, version, day).Err()
}

// RecurringDue lists up to limit members whose next recurring task starts by
// today, with that day.
func (s *Store) RecurringDue(ctx context.Context, today civil.Date, limit int64) (map[string]civil.Date, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, recurKey, "-inf", strconv.Itoa(ymd(today)), limit)
	if err != nil {
		return nil, err
	}
	out := make(map[string]civil.Date, len(zs))
	for _, z := range zs {
		out[z.Member.(string)] = fromYMD(strconv.Itoa(int(z.Score)))
	}
	return out, nil
}

// RecordDischarge keeps an inpatient discharge of a plan with the member's tier then.
func (s *Store) RecordDischarge(ctx context.Context, plan, member string, d civil.Date, tier string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, dischKey(s.tag(member), plan), redis.Z{Score: float64(ymd(d)), Member: member + "|" + d.String() + "|" + tier})
		p.ZAdd(ctx, s.memberDischKey(member), redis.Z{Score: float64(ymd(d)), Member: d.String()})
		return nil
	})
	return err
}

// MemberDischarges lists a member's discharge dates from..to.
func (s *Store) MemberDischarges(ctx context.Context, member string, from, to civil.Date) ([]civil.Date, error) {
	vals, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.memberDischKey(member), ByScore: true, Start: strconv.Itoa(ymd(from)), Stop: strconv.Itoa(ymd(to))}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]civil.Date, 0, len(vals))
	for _, v := range vals {
		if d, err := civil.Parse(v); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Discharges lists a plan's discharges dated from..to.
func (s *Store) Discharges(ctx context.Context, plan string, from, to civil.Date) ([]tasks.Discharge, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, func(tag string) string { return dischKey(tag, plan) }, strconv.Itoa(ymd(from)), strconv.Itoa(ymd(to)), 0)
	if err != nil {
		return nil, err
	}
	vals := redisx.Members(zs)
	out := make([]tasks.Discharge, 0, len(vals))
	for _, v := range vals {
		parts := strings.Split(v, "|")
		if len(parts) != 3 {
			continue
		}
		d, _ := civil.Parse(parts[1])
		out = append(out, tasks.Discharge{Member: parts[0], Date: d, Tier: parts[2]})
	}
	return out, nil
}

// OpenByDue implements tasks.Store.
func (s *Store) OpenByDue(ctx context.Context, plan string, limit int64) ([]tasks.Due, error) {
	key := dueKey
	if plan != "" {
		key = func(tag string) string { return planDueKey(tag, plan) }
	}
	zs, err := s.parts.ByScore(ctx, s.rdb, key, "-inf", "+inf", limit)
	if err != nil {
		return nil, err
	}
	out := make([]tasks.Due, 0, len(zs))
	for _, z := range zs {
		id, _ := z.Member.(string)
		out = append(out, tasks.Due{ID: id, Due: fromYMD(strconv.Itoa(int(z.Score)))})
	}
	return out, nil
}

// Counts returns the number of tasks per status and kind, and ever
// scheduled, summed over the partitions.
func (s *Store) Counts(ctx context.Context, plan string) (map[[2]string]int64, int64, error) {
	if plan != "" {
		return s.planCounts(ctx, plan)
	}
	statuses := []string{tasks.Scheduled, tasks.Leased, tasks.Completed, tasks.Cancelled, tasks.Expired, tasks.Declined}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	out := map[[2]string]int64{}
	var scheduled int64
	for _, tag := range s.parts.All() {
		keys := []string{scheduledKey(tag)}
		for _, st := range statuses {
			for _, k := range policy.Kinds {
				keys = append(keys, countKey(tag, st, k))
			}
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result() // one partition's keys: one slot
		if err != nil {
			return nil, 0, err
		}
		scheduled += num(vals[0])
		i := 1
		for _, st := range statuses {
			for _, k := range policy.Kinds {
				if n := num(vals[i]); n != 0 {
					out[[2]string{st, k}] += n
				}
				i++
			}
		}
	}
	return out, scheduled, nil
}

// planCounts sums a plan's counters over the partitions.
func (s *Store) planCounts(ctx context.Context, plan string) (map[[2]string]int64, int64, error) {
	out := map[[2]string]int64{}
	var created int64
	for _, tag := range s.parts.All() {
		h, err := s.rdb.HGetAll(ctx, planCountKey(tag, plan)).Result()
		if err != nil {
			return nil, 0, err
		}
		for f, v := range h {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("task counter %s of a plan: %w", f, err)
			}
			if f == "created" {
				created += n
				continue
			}
			if st, kind, ok := strings.Cut(f, ":"); ok && n != 0 {
				out[[2]string{st, kind}] += n
			}
		}
	}
	return out, created, nil
}

var _ tasks.Store = (*Store)(nil)
