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
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// Redis keys. Every task's state is one hash; the sets and sorted sets index
// it. The scripts derive keys from their arguments (one Redis, not a cluster).
const (
	keyLeased    = "is:leased"          // zset: task id by lease expiry (unix ms)
	keyDue       = "is:due"             // zset: open task ids by due date (YYYYMMDD)
	keyExpire    = "is:expire"          // zset: open task ids by expiry date (YYYYMMDD)
	keyUnpub     = "is:unpub"           // set: tasks with a change not yet published
	keyScheduled = "is:count:scheduled" // tasks ever created
	keyRecur     = "is:recur"           // zset: members in the program by the next day a recurring task starts (YYYYMMDD)
	keyRecurVer  = "is:recurv"          // hash: member -> the membership version is:recur was computed from
)

func taskKey(id string) string         { return "is:task:" + id }
func memberKey(m string) string        { return "is:member:" + m }
func planKey(plan string) string       { return "is:plan:" + plan }
func readyKey(plan string) string      { return "is:ready:" + plan }
func kindKey(plan, kind string) string { return "is:kind:" + plan + ":" + kind }
func tierKey(m string) string          { return "is:tier:" + m }
func tierHistKey(m string) string      { return "is:tiers:" + m }
func encKey(m string) string           { return "is:enc:" + m }
func dischKey(plan string) string      { return "is:disch:" + plan }
func memberDischKey(m string) string   { return "is:dischm:" + m }
func spansKey(m string) string         { return "is:spans:" + m }
func membershipVerKey(m string) string { return "is:mv:" + m }
func countKey(status, kind string) string {
	return "is:count:" + status + ":" + kind
}
func capacityKey(plan, week, kind string) string { return "is:cap:" + plan + ":" + week + ":" + kind }

func ymd(d civil.Date) int        { return d.YMD() }
func fromYMD(s string) civil.Date { return civil.FromYMD(s) }

// Store keeps tasks in Redis.
type Store struct {
	rdb redis.UniversalClient
	box outbox.Outbox // tasks with a change not yet on the bus
}

// NewStore returns a Store.
func NewStore(rdb redis.UniversalClient) *Store {
	return &Store{rdb: rdb, box: outbox.New(rdb, keyUnpub, taskKey)}
}

// Create implements tasks.Store: the task and its indexes, unless it exists.
func (s *Store) Create(ctx context.Context, t *schedulingv1.InterventionTask, plan string, in tasks.Initial) (bool, error) {
	pb, err := proto.Marshal(t)
	if err != nil {
		return false, err
	}
	kind := enums.Name(t.Kind)
	due, exp := civil.FromProto(t.DueDate), civil.FromProto(t.ExpiresOn)
	tk := taskKey(t.TaskId)
	fields := []any{"pb", pb, "kind", kind, "plan", plan, "member", t.MemberId, "prio", t.Priority,
		"due", ymd(due), "expires", ymd(exp), "status", in.Status, "cby", in.CompletedBy, "con", ymd(in.CompletedOn),
		"sreason", in.Reason, "v", 1, "pub", 0}
	for _, a := range in.Attempts {
		fields = append(fields, attemptField(a), attemptValue(a))
	}
	ops := []redisx.Op{redisx.HSet(tk, fields...), redisx.SAdd(memberKey(t.MemberId), t.TaskId),
		redisx.ZAdd(planKey(plan), float64(ymd(due)), t.TaskId), redisx.SAdd(kindKey(plan, kind), t.TaskId)}
	if in.Status == tasks.Scheduled {
		ops = append(ops, redisx.ZAdd(readyKey(plan), tasks.ReadyScore(int(t.Priority), due), t.TaskId),
			redisx.ZAdd(keyDue, float64(ymd(due)), t.TaskId), redisx.ZAdd(keyExpire, float64(ymd(exp)), t.TaskId))
	}
	ops = append(ops, redisx.IncrBy(countKey(in.Status, kind), 1), redisx.IncrBy(keyScheduled, 1), redisx.SAdd(keyUnpub, t.TaskId))
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
	h, err := s.rdb.HGetAll(ctx, taskKey(id)).Result()
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
// publishing, if the task is still at the version it was decided on.
func (s *Store) Apply(ctx context.Context, c tasks.Change) error {
	st, id := c.From, c.From.ID
	tk := taskKey(id)
	var ops []redisx.Op
	if c.EndsLease {
		ops = append(ops, redisx.ZRem(keyLeased, id))
		if c.ReturnsCapacity {
			ops = append(ops, redisx.IncrBy(st.Capacity, -1))
		}
		ops = append(ops, redisx.HSet(tk, "worker", "", "lease_exp", 0, "capkey", ""))
	}
	if st.Status == tasks.Scheduled {
		ops = append(ops, redisx.ZRem(readyKey(st.Plan), id))
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
		ops = append(ops, redisx.ZAdd(keyDue, due, id), redisx.ZAdd(keyExpire, float64(ymd(st.Expires)), id), redisx.ZAdd(planKey(st.Plan), due, id))
		if c.To == tasks.Scheduled {
			ops = append(ops, redisx.ZAdd(readyKey(st.Plan), tasks.ReadyScore(c.Priority, c.Due), id))
		}
	} else {
		ops = append(ops, redisx.ZRem(keyDue, id), redisx.ZRem(keyExpire, id))
	}
	if st.Status != c.To {
		ops = append(ops, redisx.IncrBy(countKey(st.Status, st.Kind), -1), redisx.IncrBy(countKey(c.To, st.Kind), 1))
	}
	ops = append(ops, redisx.HIncrBy(tk, "v", 1), redisx.SAdd(keyUnpub, id))
	return commit(ctx, s.rdb, []redisx.Guard{redisx.FieldIs(tk, "v", st.Version)}, ops...)
}

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
// (highest ReadyScore first), from offset, up to n.
func (s *Store) Ready(ctx context.Context, plan string, offset, n int64) ([]tasks.State, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: readyKey(plan), Start: offset, Stop: offset + n - 1, Rev: true}).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	// The lifecycle fields only: a ready task's attempts and payload do not decide a lease.
	fields := []string{"kind", "plan", "status", "prio", "due", "expires", "worker", "capkey", "v"}
	cmds := make([]*redis.SliceCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, taskKey(id), fields...)
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

// Queued implements tasks.Store.
func (s *Store) Queued(ctx context.Context, plan string) (int64, error) {
	return s.rdb.ZCard(ctx, readyKey(plan)).Result()
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
// the capacity used changed since they were read.
func (s *Store) ApplyLease(ctx context.Context, l tasks.Lease) error {
	st, id := l.From, l.From.ID
	tk, ck := taskKey(id), capacityKey(st.Plan, l.Week, st.Kind)
	return commit(ctx, s.rdb, []redisx.Guard{redisx.FieldIs(tk, "v", st.Version), redisx.FieldIs(tk, "status", tasks.Scheduled), redisx.CountIs(ck, l.Used)},
		redisx.ZRem(readyKey(st.Plan), id), redisx.ZAdd(keyLeased, float64(l.Until), id),
		redisx.HSet(tk, "status", tasks.Leased, "worker", l.Worker, "lease_exp", l.Until, "capkey", ck),
		redisx.IncrBy(ck, 1), redisx.PExpire(ck, capacityTTL),
		redisx.IncrBy(countKey(tasks.Scheduled, st.Kind), -1), redisx.IncrBy(countKey(tasks.Leased, st.Kind), 1),
		redisx.HIncrBy(tk, "v", 1), redisx.SAdd(keyUnpub, id))
}

// Get reads a task: its static part and its current state.
func (s *Store) Get(ctx context.Context, id string) (t *schedulingv1.InterventionTask, published bool, err error) {
	h, err := s.rdb.HGetAll(ctx, taskKey(id)).Result()
	if err != nil {
		return nil, false, err
	}
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
	return s.rdb.SMembers(ctx, memberKey(member)).Result()
}

// LeasesExpiredBy lists leased tasks whose lease ended before t.
func (s *Store) LeasesExpiredBy(ctx context.Context, t time.Time) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: keyLeased, ByScore: true, Start: "-inf", Stop: strconv.FormatInt(t.UnixMilli(), 10), Count: 1000}).Result()
}

// ExpiringBefore lists open tasks whose expiry date is before d.
func (s *Store) ExpiringBefore(ctx context.Context, d civil.Date) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: keyExpire, ByScore: true, Start: "-inf", Stop: "(" + strconv.Itoa(ymd(d)), Count: 1000}).Result()
}

// OverdueBefore lists open tasks due before d.
func (s *Store) OverdueBefore(ctx context.Context, d civil.Date) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: keyDue, ByScore: true, Start: "-inf", Stop: "(" + strconv.Itoa(ymd(d))}).Result()
}

// PlanTasks lists a plan's task ids by due date.
func (s *Store) PlanTasks(ctx context.Context, plan string) ([]string, error) {
	return s.rdb.ZRange(ctx, planKey(plan), 0, -1).Result()
}

// AllPlans lists the plans with tasks.
func (s *Store) AllPlans(ctx context.Context) ([]string, error) {
	var out []string
	iter := s.rdb.Scan(ctx, 0, "is:plan:*", 100).Iterator()
	for iter.Next(ctx) {
		out = append(out, strings.TrimPrefix(iter.Val(), "is:plan:"))
	}
	return out, iter.Err()
}

// KindTasks lists a plan's task ids of a kind.
func (s *Store) KindTasks(ctx context.Context, plan, kind string) ([]string, error) {
	return s.rdb.SMembers(ctx, kindKey(plan, kind)).Result()
}

// SetTier records a member's tier as of a date (its history) and the member's
// plan, and bumps the member's membership version.
func (s *Store) SetTier(ctx context.Context, member, tier, plan string, on civil.Date) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tierKey(member), tier+"|"+plan, 0)
		day := strconv.Itoa(ymd(on))
		p.ZRemRangeByScore(ctx, tierHistKey(member), day, day)
		p.ZAdd(ctx, tierHistKey(member), redis.Z{Score: float64(ymd(on)), Member: day + "|" + tier})
		p.Incr(ctx, membershipVerKey(member))
		return nil
	})
	return err
}

// TierHistory lists the tier points dated from..to, with the last point before from.
func (s *Store) TierHistory(ctx context.Context, member string, from, to civil.Date) ([]tasks.TierPoint, error) {
	read := func(by *redis.ZRangeBy, rev bool) ([]string, error) {
		args := redis.ZRangeArgs{Key: tierHistKey(member), ByScore: true, Start: by.Min, Stop: by.Max, Offset: by.Offset, Count: by.Count}
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
	v, err := s.rdb.Get(ctx, tierKey(member)).Result()
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
	return s.rdb.ZAdd(ctx, encKey(member), redis.Z{Score: float64(ymd(e.Date)), Member: v}).Err()
}

// Encounters lists a member's encounters (of every outcome) dated from..to.
func (s *Store) Encounters(ctx context.Context, member string, from, to civil.Date) ([]tasks.Encounter, error) {
	vals, err := s.rdb.ZRangeByScoreWithScores(ctx, encKey(member), &redis.ZRangeBy{Min: strconv.Itoa(ymd(from)), Max: strconv.Itoa(ymd(to))}).Result()
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
		p.HSet(ctx, spansKey(member), id, v)
		p.Incr(ctx, membershipVerKey(member))
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
		points = p.ZRange(ctx, tierHistKey(member), 0, -1)
		spansCmd = p.HGetAll(ctx, spansKey(member))
		ver = p.Get(ctx, membershipVerKey(member))
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
// KEYS: is:recur, is:recurv. ARGV: member, version, next (YYYYMMDD, "" for none).
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
	return setNextRecurring.Run(ctx, s.rdb, []string{keyRecur, keyRecurVer}, member, version, day).Err()
}

// RecurringDue lists up to limit members whose next recurring task starts by
// today, with that day.
func (s *Store) RecurringDue(ctx context.Context, today civil.Date, limit int64) (map[string]civil.Date, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, keyRecur, &redis.ZRangeBy{Min: "-inf", Max: strconv.Itoa(ymd(today)), Count: limit}).Result()
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
		p.ZAdd(ctx, dischKey(plan), redis.Z{Score: float64(ymd(d)), Member: member + "|" + d.String() + "|" + tier})
		p.ZAdd(ctx, memberDischKey(member), redis.Z{Score: float64(ymd(d)), Member: d.String()})
		return nil
	})
	return err
}

// MemberDischarges lists a member's discharge dates from..to.
func (s *Store) MemberDischarges(ctx context.Context, member string, from, to civil.Date) ([]civil.Date, error) {
	vals, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: memberDischKey(member), ByScore: true, Start: strconv.Itoa(ymd(from)), Stop: strconv.Itoa(ymd(to))}).Result()
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
	vals, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: dischKey(plan), ByScore: true, Start: strconv.Itoa(ymd(from)), Stop: strconv.Itoa(ymd(to))}).Result()
	if err != nil {
		return nil, err
	}
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
func (s *Store) OpenByDue(ctx context.Context, limit int64) ([]tasks.Due, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, keyDue, 0, limit-1).Result()
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

// Counts returns the number of tasks per status and kind, and ever scheduled.
func (s *Store) Counts(ctx context.Context) (map[[2]string]int64, int64, error) {
	statuses := []string{tasks.Scheduled, tasks.Leased, tasks.Completed, tasks.Cancelled, tasks.Expired, tasks.Declined}
	keys := []string{keyScheduled}
	for _, st := range statuses {
		for _, k := range policy.Kinds {
			keys = append(keys, countKey(st, k))
		}
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, err
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	out := map[[2]string]int64{}
	i := 1
	for _, st := range statuses {
		for _, k := range policy.Kinds {
			if n := num(vals[i]); n != 0 {
				out[[2]string{st, k}] = n
			}
			i++
		}
	}
	return out, num(vals[0]), nil
}

var _ tasks.Store = (*Store)(nil)
