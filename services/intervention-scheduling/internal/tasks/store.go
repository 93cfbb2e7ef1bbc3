package tasks

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
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
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

func ymd(d civil.Date) int {
	if d.IsZero() {
		return 0
	}
	return d.Year*10000 + int(d.Month)*100 + d.Day
}

func fromYMD(s string) civil.Date {
	n, err := strconv.Atoi(s)
	if err != nil || n == 0 {
		return civil.Date{}
	}
	return civil.Date{Year: n / 10000, Month: time.Month(n / 100 % 100), Day: n % 100}
}

// readyScore orders ready tasks: higher priority first, then earlier due date.
func readyScore(priority, due int) float64 { return float64(priority)*1e8 + float64(99999999-due) }

// createScript creates a task unless it exists. ARGV: id, pb, kind, plan,
// member, priority, due, expires, status, completed_by, completed_on, score,
// status_reason, then field/value pairs (contact attempts).
var createScript = redis.NewScript(`
local id = ARGV[1]
local tk = 'is:task:' .. id
if redis.call('EXISTS', tk) == 1 then return 0 end
local kind, plan, member, status = ARGV[3], ARGV[4], ARGV[5], ARGV[9]
redis.call('HSET', tk, 'pb', ARGV[2], 'kind', kind, 'plan', plan, 'member', member, 'prio', ARGV[6],
  'due', ARGV[7], 'expires', ARGV[8], 'status', status, 'cby', ARGV[10], 'con', ARGV[11], 'sreason', ARGV[13], 'v', 1, 'pub', 0)
for i = 14, #ARGV, 2 do redis.call('HSET', tk, ARGV[i], ARGV[i+1]) end
redis.call('SADD', 'is:member:' .. member, id)
redis.call('ZADD', 'is:plan:' .. plan, ARGV[7], id)
redis.call('SADD', 'is:kind:' .. plan .. ':' .. kind, id)
if status == 'SCHEDULED' then
  redis.call('ZADD', 'is:ready:' .. plan, ARGV[12], id)
  redis.call('ZADD', 'is:due', ARGV[7], id)
  redis.call('ZADD', 'is:expire', ARGV[8], id)
end
redis.call('INCR', 'is:count:' .. status .. ':' .. kind)
redis.call('INCR', 'is:count:scheduled')
redis.call('SADD', 'is:unpub', id)
return 1
`)

// transitionScript moves an open task. ARGV: id, allowed from (comma list),
// to (” keeps the status), worker that must hold a lease (” none), give back
// capacity ('1' or '0'), then field/value pairs. It keeps the indexes and the
// counters, bumps the version and returns {1, version}, {-1, _} when there
// is no such task, or {0, reason}.
var transitionScript = redis.NewScript(`
local id = ARGV[1]
local tk = 'is:task:' .. id
local st = redis.call('HGET', tk, 'status')
if not st then return {-1, 'no such task'} end
local ok = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == st then ok = true end end
if not ok then return {0, 'the task is ' .. st} end
if ARGV[4] ~= '' and st == 'LEASED' and redis.call('HGET', tk, 'worker') ~= ARGV[4] then
  return {0, 'the task is leased by another worker'}
end
local to = ARGV[3]
if to == '' then to = st end
local kind = redis.call('HGET', tk, 'kind')
local plan = redis.call('HGET', tk, 'plan')
if st == 'LEASED' and to ~= 'LEASED' then
  redis.call('ZREM', 'is:leased', id)
  if ARGV[5] == '1' then
    local ck = redis.call('HGET', tk, 'capkey')
    if ck and ck ~= '' then redis.call('DECR', ck) end
  end
  redis.call('HSET', tk, 'worker', '', 'lease_exp', 0, 'capkey', '')
end
if st == 'SCHEDULED' then redis.call('ZREM', 'is:ready:' .. plan, id) end
for i = 6, #ARGV, 2 do redis.call('HSET', tk, ARGV[i], ARGV[i+1]) end
redis.call('HSET', tk, 'status', to)
local due = redis.call('HGET', tk, 'due')
if to == 'SCHEDULED' or to == 'LEASED' then
  redis.call('ZADD', 'is:due', due, id)
  redis.call('ZADD', 'is:expire', redis.call('HGET', tk, 'expires'), id)
  redis.call('ZADD', 'is:plan:' .. plan, due, id)
  if to == 'SCHEDULED' then
    local prio = tonumber(redis.call('HGET', tk, 'prio'))
    redis.call('ZADD', 'is:ready:' .. plan, prio * 100000000 + (99999999 - tonumber(due)), id)
  end
else
  redis.call('ZREM', 'is:due', id)
  redis.call('ZREM', 'is:expire', id)
end
if st ~= to then
  redis.call('DECR', 'is:count:' .. st .. ':' .. kind)
  redis.call('INCR', 'is:count:' .. to .. ':' .. kind)
end
local v = redis.call('HINCRBY', tk, 'v', 1)
redis.call('SADD', 'is:unpub', id)
return {1, v}
`)

// leaseScript hands ready tasks of a plan to a worker, highest priority
// first, skipping kinds whose weekly capacity is used up. ARGV: plan, worker,
// lease expiry (unix ms), max, week, allowed kinds (comma list, ” all), then
// kind/capacity pairs. Returns the leased ids followed by the number queued.
var leaseScript = redis.NewScript(`
local plan, worker, exp, max, week = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local allowed = {}
local any = ARGV[6] == ''
for k in string.gmatch(ARGV[6], '[^,]+') do allowed[k] = true end
local cap = {}
for i = 7, #ARGV, 2 do cap[ARGV[i]] = tonumber(ARGV[i+1]) end
local ready = 'is:ready:' .. plan
local out = {}
local ids = redis.call('ZREVRANGE', ready, 0, 4999)
for _, id in ipairs(ids) do
  if #out >= max then break end
  local tk = 'is:task:' .. id
  local kind = redis.call('HGET', tk, 'kind')
  if any or allowed[kind] then
    local ck = 'is:cap:' .. plan .. ':' .. week .. ':' .. kind
    local used = tonumber(redis.call('GET', ck) or '0')
    if cap[kind] == nil or used < cap[kind] then
      redis.call('ZREM', ready, id)
      redis.call('ZADD', 'is:leased', exp, id)
      redis.call('HSET', tk, 'status', 'LEASED', 'worker', worker, 'lease_exp', exp, 'capkey', ck)
      redis.call('INCR', ck)
      redis.call('EXPIRE', ck, 1209600)
      redis.call('DECR', 'is:count:SCHEDULED:' .. kind)
      redis.call('INCR', 'is:count:LEASED:' .. kind)
      redis.call('HINCRBY', tk, 'v', 1)
      redis.call('SADD', 'is:unpub', id)
      table.insert(out, id)
    end
  end
end
table.insert(out, tostring(redis.call('ZCARD', ready)))
return out
`)

// Store keeps tasks in Redis.
type Store struct {
	rdb *redis.Client
	box outbox.Outbox // tasks with a change not yet on the bus
}

// NewStore returns a Store.
func NewStore(rdb *redis.Client) *Store {
	return &Store{rdb: rdb, box: outbox.New(rdb, keyUnpub, taskKey)}
}

// Initial is a new task's state: its status and, for a task created after
// the facts that decide it (an encounter, the end of enrollment), why.
type Initial struct {
	Status      string
	CompletedBy string
	CompletedOn civil.Date
	Reason      string
	Attempts    []Attempt
}

// Create stores a new task; it reports false when the task exists.
func (s *Store) Create(ctx context.Context, t *schedulingv1.InterventionTask, plan string, in Initial) (bool, error) {
	static := proto.Clone(t).(*schedulingv1.InterventionTask)
	pb, err := proto.Marshal(static)
	if err != nil {
		return false, err
	}
	kind := enums.Name(t.Kind)
	due, exp := ymd(civil.FromProto(t.DueDate)), ymd(civil.FromProto(t.ExpiresOn))
	args := []any{t.TaskId, pb, kind, plan, t.MemberId, t.Priority, due, exp, in.Status, in.CompletedBy, ymd(in.CompletedOn), readyScore(int(t.Priority), due), in.Reason}
	for _, a := range in.Attempts {
		args = append(args, a.field(), a.value())
	}
	n, err := createScript.Run(ctx, s.rdb, []string{taskKey(t.TaskId)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("create task: %w", err)
	}
	return n == 1, nil
}

// ErrNotFound: no task has the id.
var ErrNotFound = errors.New("no such task")

// NotAllowedError is a transition the task's state does not allow.
type NotAllowedError struct{ Reason string }

func (e NotAllowedError) Error() string { return e.Reason }

// Transition changes an open task (see transitionScript).
func (s *Store) Transition(ctx context.Context, id, from, to, worker string, giveBack bool, fields ...any) error {
	back := "0"
	if giveBack {
		back = "1"
	}
	args := append([]any{id, from, to, worker, back}, fields...)
	res, err := transitionScript.Run(ctx, s.rdb, []string{taskKey(id)}, args...).Slice()
	if err != nil {
		return fmt.Errorf("task transition: %w", err)
	}
	switch n, _ := res[0].(int64); n {
	case 1:
		return nil
	case -1:
		return ErrNotFound
	}
	reason, _ := res[1].(string)
	return NotAllowedError{Reason: reason}
}

// Lease leases up to max ready tasks of plan; it returns their ids and how many stay queued.
func (s *Store) Lease(ctx context.Context, plan, worker string, until time.Time, max int, week string, kinds []string, capacity map[string]int) ([]string, int64, error) {
	args := []any{plan, worker, until.UnixMilli(), max, week, strings.Join(kinds, ",")}
	for k, c := range capacity {
		args = append(args, k, c)
	}
	res, err := leaseScript.Run(ctx, s.rdb, []string{readyKey(plan)}, args...).StringSlice()
	if err != nil {
		return nil, 0, fmt.Errorf("lease: %w", err)
	}
	queued, _ := strconv.ParseInt(res[len(res)-1], 10, 64)
	return res[:len(res)-1], queued, nil
}

// Get reads a task: its static part and its current state.
func (s *Store) Get(ctx context.Context, id string) (*schedulingv1.InterventionTask, map[string]string, error) {
	h, err := s.rdb.HGetAll(ctx, taskKey(id)).Result()
	if err != nil {
		return nil, nil, err
	}
	if len(h) == 0 {
		return nil, nil, nil
	}
	var t schedulingv1.InterventionTask
	if err := proto.Unmarshal([]byte(h["pb"]), &t); err != nil {
		return nil, nil, fmt.Errorf("task %s unreadable: %w", id, err)
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
	return &t, h, nil
}

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

// attemptPrefix is the task hash field of an attempt: att:<encounter id> -> YYYYMMDD|OUTCOME.
const attemptPrefix = "att:"

func (a Attempt) field() string { return attemptPrefix + a.Encounter }
func (a Attempt) value() string {
	return strconv.Itoa(ymd(a.Date)) + "|" + enums.Name(a.Outcome)
}

func parseAttempt(field, value string) (Attempt, bool) {
	id, ok := strings.CutPrefix(field, attemptPrefix)
	if !ok {
		return Attempt{}, false
	}
	day, outcome, _ := strings.Cut(value, "|")
	return Attempt{Encounter: id, Date: fromYMD(day), Outcome: enums.Of[encountersv1.EncounterOutcome](outcome)}, true
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

// TierPoint is a member's tier from a date on.
type TierPoint struct {
	On   civil.Date
	Tier string
}

// TierHistory lists the tier points dated from..to, with the last point before from.
func (s *Store) TierHistory(ctx context.Context, member string, from, to civil.Date) ([]TierPoint, error) {
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
	var out []TierPoint
	for _, v := range append(before, in...) {
		day, tier, _ := strings.Cut(v, "|")
		out = append(out, TierPoint{On: fromYMD(day), Tier: tier})
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

// RecordEncounter keeps a member's encounter (idempotent).
func (s *Store) RecordEncounter(ctx context.Context, member string, e Encounter) error {
	v := fmt.Sprintf("%s|%s|%d|%d", e.ID, strings.Join(e.Codes, ","), e.Found, e.Resolved)
	if !e.Completed() {
		v += "|" + enums.Name(e.Outcome)
	}
	return s.rdb.ZAdd(ctx, encKey(member), redis.Z{Score: float64(ymd(e.Date)), Member: v}).Err()
}

// Encounters lists a member's encounters (of every outcome) dated from..to.
func (s *Store) Encounters(ctx context.Context, member string, from, to civil.Date) ([]Encounter, error) {
	vals, err := s.rdb.ZRangeByScoreWithScores(ctx, encKey(member), &redis.ZRangeBy{Min: strconv.Itoa(ymd(from)), Max: strconv.Itoa(ymd(to))}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Encounter, 0, len(vals))
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
		out = append(out, Encounter{ID: parts[0], Date: fromYMD(strconv.Itoa(int(z.Score))), Codes: strings.Split(parts[1], ","), Found: f, Resolved: r, Outcome: outcome})
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

// Discharge is a recorded inpatient discharge.
type Discharge struct {
	Member string
	Date   civil.Date
	Tier   string
}

// Discharges lists a plan's discharges dated from..to.
func (s *Store) Discharges(ctx context.Context, plan string, from, to civil.Date) ([]Discharge, error) {
	vals, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: dischKey(plan), ByScore: true, Start: strconv.Itoa(ymd(from)), Stop: strconv.Itoa(ymd(to))}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Discharge, 0, len(vals))
	for _, v := range vals {
		parts := strings.Split(v, "|")
		if len(parts) != 3 {
			continue
		}
		d, _ := civil.Parse(parts[1])
		out = append(out, Discharge{Member: parts[0], Date: d, Tier: parts[2]})
	}
	return out, nil
}

// Counts returns the number of tasks per status and kind, and ever scheduled.
func (s *Store) Counts(ctx context.Context) (map[[2]string]int64, int64, error) {
	statuses := []string{Scheduled, Leased, Completed, Cancelled, Expired, Declined}
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
