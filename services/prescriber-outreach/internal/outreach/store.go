package outreach

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/outbox"
)

// Statuses as stored.
const (
	Pending    = "PENDING"
	Sent       = "SENT"
	Accepted   = "ACCEPTED"
	Declined   = "DECLINED"
	NoResponse = "NO_RESPONSE"
	Superseded = "SUPERSEDED"
)

// Redis keys. An item's state is one hash; sets and sorted sets index it.
// The scripts derive keys from their arguments (one Redis, not a cluster).
const (
	keyItems       = "po:count:items"    // items ever raised
	keyComms       = "po:count:comms"    // communications ever built
	keyNPIs        = "po:npis"           // set: prescribers with items
	keyCodes       = "po:codes"          // set: problem codes with items
	keyPendSet     = "po:pendset"        // set: "<plan>|<npi>" with pending items
	keySent        = "po:sent"           // zset: sent item ids by response deadline (YYYYMMDD)
	keyUnpub       = "po:unpub"          // set: items with a change not yet published
	keyUnpubComm   = "po:unpubc"         // set: communications not yet published
	keySuppressed  = "po:suppressed"     // set: problems found again and not raised (per prescriber, patient, problem, date)
	keyUnmatched   = "po:unmatched"      // set: encounter responses that named no item
	keyClock       = "po:clock"          // the event clock
	prefixProblem  = "po:count:problem:" // items per problem code
	prefixStatNPI  = "po:stats:npi:"     // hash: status -> items, per prescriber
	prefixStatCod  = "po:stats:code:"    // hash: status -> items, per problem code
	prefixPending  = "po:pending:"       // zset per "<plan>|<npi>": pending item ids by creation date
	prefixComms    = "po:comms:"         // zset per prescriber: communication ids by date
	prefixCommN    = "po:commcount:"     // per "<plan>|<npi>|<period>": communications built
	prefixLast     = "po:last:"          // hash per "<npi>|<member>|<problem key>": id, until
	prefixItem     = "po:item:"          // hash per item
	prefixComm     = "po:comm:"          // hash per communication
	prefixNPIItems = "po:prescriber:"    // zset per prescriber: item ids by creation date
)

func itemKey(id string) string           { return prefixItem + id }
func commKey(id string) string           { return prefixComm + id }
func pendingKey(plan, npi string) string { return prefixPending + plan + "|" + npi }

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

// luaMove is shared by the scripts that change an item's status: it keeps the
// indexes and the per-prescriber and per-problem counters, bumps the version
// and queues the change for publishing. The caller has checked the move is allowed.
const luaMove = `
local function move(id, st, to)
  local ik = 'po:item:' .. id
  local h = redis.call('HMGET', ik, 'npi', 'code', 'plan')
  local npi, code, plan = h[1], h[2], h[3]
  if st == 'PENDING' and to ~= 'PENDING' then
    local pk = 'po:pending:' .. plan .. '|' .. npi
    redis.call('ZREM', pk, id)
    if redis.call('ZCARD', pk) == 0 then redis.call('SREM', 'po:pendset', plan .. '|' .. npi) end
  end
  if st == 'SENT' and to ~= 'SENT' then redis.call('ZREM', 'po:sent', id) end
  if to == 'SENT' then redis.call('ZADD', 'po:sent', redis.call('HGET', ik, 'deadline'), id) end
  if st ~= to then
    redis.call('HINCRBY', 'po:stats:npi:' .. npi, st, -1)
    redis.call('HINCRBY', 'po:stats:npi:' .. npi, to, 1)
    redis.call('HINCRBY', 'po:stats:code:' .. code, st, -1)
    redis.call('HINCRBY', 'po:stats:code:' .. code, to, 1)
  end
  redis.call('HSET', ik, 'status', to)
  local v = redis.call('HINCRBY', ik, 'v', 1)
  redis.call('SADD', 'po:unpub', id)
  return v
end
`

// createScript raises an item unless the same problem for the same patient
// was raised with the prescriber within the repeat window (a rule on dates
// only, so a replay decides as live operation did). A previous item still
// pending is superseded by the new one.
// ARGV: id, pb, npi, member, problem key, code, plan, created, until.
// Returns {1, superseded id or ”} created, {2, id} exists, {0, last id} not raised.
var createScript = redis.NewScript(luaMove + `
local id, npi, member, pkey, code, plan, created = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local ik = 'po:item:' .. id
if redis.call('EXISTS', ik) == 1 then return {2, id} end
local lk = 'po:last:' .. npi .. '|' .. member .. '|' .. pkey
local last = redis.call('HGET', lk, 'id')
if last and created < tonumber(redis.call('HGET', lk, 'until')) then
  redis.call('SADD', 'po:suppressed', id)
  return {0, last}
end
local superseded = ''
if last and redis.call('HGET', 'po:item:' .. last, 'status') == 'PENDING' then
  redis.call('HSET', 'po:item:' .. last, 'sby', id)
  move(last, 'PENDING', 'SUPERSEDED')
  superseded = last
end
redis.call('HSET', ik, 'pb', ARGV[2], 'npi', npi, 'member', member, 'pkey', pkey, 'code', code, 'plan', plan,
  'created', ARGV[8], 'supp', ARGV[9], 'status', 'PENDING', 'v', 1, 'pub', 0)
redis.call('HSET', lk, 'id', id, 'until', ARGV[9])
redis.call('ZADD', 'po:pending:' .. plan .. '|' .. npi, created, id)
redis.call('SADD', 'po:pendset', plan .. '|' .. npi)
redis.call('SADD', 'po:npis', npi)
redis.call('SADD', 'po:codes', code)
redis.call('ZADD', 'po:prescriber:' .. npi, created, id)
redis.call('HINCRBY', 'po:stats:npi:' .. npi, 'PENDING', 1)
redis.call('HINCRBY', 'po:stats:code:' .. code, 'PENDING', 1)
redis.call('INCR', 'po:count:items')
redis.call('INCR', 'po:count:problem:' .. code)
redis.call('SADD', 'po:unpub', id)
return {1, superseded}
`)

// respondScript records an answer. ARGV: id, to (ACCEPTED or DECLINED),
// responded on, note, by, pharmacy NPI. Returns {1, version}, {2, status} when the same
// answer is already recorded, {-1, _} when there is no such item, or {0, reason}.
var respondScript = redis.NewScript(luaMove + `
local id, to = ARGV[1], ARGV[2]
local ik = 'po:item:' .. id
local st = redis.call('HGET', ik, 'status')
if not st then return {-1, 'no such item'} end
if st == to then return {2, st} end
if st == 'ACCEPTED' or st == 'DECLINED' then
  return {0, 'answered', st, redis.call('HGET', ik, 'resp') or ''}
end
if st == 'SUPERSEDED' then
  return {0, 'superseded', st, redis.call('HGET', ik, 'sby') or ''}
end
if tonumber(ARGV[3]) < tonumber(redis.call('HGET', ik, 'created')) then
  return {0, 'responded_on is before the problem was raised'}
end
redis.call('HSET', ik, 'resp', ARGV[3], 'note', ARGV[4], 'rby', ARGV[5], 'rph', ARGV[6])
return {1, move(id, st, to)}
`)

// noResponseScript marks a sent item whose deadline passed. ARGV: id, today.
var noResponseScript = redis.NewScript(luaMove + `
local ik = 'po:item:' .. ARGV[1]
if redis.call('HGET', ik, 'status') ~= 'SENT' then
  redis.call('ZREM', 'po:sent', ARGV[1])
  return 0
end
if tonumber(redis.call('HGET', ik, 'deadline')) >= tonumber(ARGV[2]) then return 0 end
move(ARGV[1], 'SENT', 'NO_RESPONSE')
return 1
`)

// sendScript stores a communication and moves its items to SENT, all or
// nothing. ARGV: comm id, comm pb, plan, npi, period, sent on, deadline, then
// item ids. Returns {1, ”}, {0, 'exists'} or {-1, item id} when an item is
// no longer pending (the caller reads again).
var sendScript = redis.NewScript(luaMove + `
local cid, plan, npi, period, sent, deadline = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', 'po:comm:' .. cid) == 1 then return {0, 'exists'} end
for i = 8, #ARGV do
  if redis.call('HGET', 'po:item:' .. ARGV[i], 'status') ~= 'PENDING' then return {-1, ARGV[i]} end
end
for i = 8, #ARGV do
  redis.call('HSET', 'po:item:' .. ARGV[i], 'comm', cid, 'sent', sent, 'deadline', deadline)
  move(ARGV[i], 'PENDING', 'SENT')
end
redis.call('HSET', 'po:comm:' .. cid, 'pb', ARGV[2], 'npi', npi, 'plan', plan, 'period', period, 'sent', sent)
redis.call('ZADD', 'po:comms:' .. npi, sent, cid)
redis.call('INCR', 'po:commcount:' .. plan .. '|' .. npi .. '|' .. period)
redis.call('INCR', 'po:count:comms')
redis.call('SADD', 'po:unpubc', cid)
return {1, ''}
`)

// Store keeps outreach items and communications in Redis.
type Store struct {
	rdb   *redis.Client
	items outbox.Outbox // items with a change not yet on the bus
	comms outbox.Outbox // letters not yet on the bus (a letter never changes)
}

// NewStore returns a Store.
func NewStore(rdb *redis.Client) *Store {
	return &Store{rdb: rdb, items: outbox.New(rdb, keyUnpub, itemKey), comms: outbox.New(rdb, keyUnpubComm, nil)}
}

// CreateResult says what Create did.
type CreateResult int

// What Create did.
const (
	NotRaised CreateResult = iota // still open with the prescriber, or within the repeat window
	Created
	Exists
)

// Create raises an item (see createScript); it returns what it did and,
// when created, the id of the item it superseded ("" for none); when not
// raised, the id of the item that stands for the problem.
func (s *Store) Create(ctx context.Context, it *outreachv1.OutreachItem, plan string, until civil.Date) (CreateResult, string, error) {
	pb, err := proto.Marshal(it)
	if err != nil {
		return 0, "", err
	}
	res, err := createScript.Run(ctx, s.rdb, []string{itemKey(it.ItemId)}, it.ItemId, pb, it.PrescriberNpi, it.MemberId,
		it.ProblemKey, it.ProblemCode, plan, ymd(civil.FromProto(it.CreatedOn)), ymd(until)).Slice()
	if err != nil {
		return 0, "", fmt.Errorf("create item: %w", err)
	}
	n, _ := res[0].(int64)
	id, _ := res[1].(string)
	return CreateResult(n), id, nil
}

// ErrNotFound: no outreach item has the id.
var ErrNotFound = errors.New("no such item")

// NotAllowedError is a change the item's state does not allow.
type NotAllowedError struct{ Reason string }

func (e NotAllowedError) Error() string { return e.Reason }

// Respond records an answer; it reports false when the same answer was already recorded.
func (s *Store) Respond(ctx context.Context, id, to string, on civil.Date, note, by, pharmacy string) (bool, error) {
	res, err := respondScript.Run(ctx, s.rdb, []string{itemKey(id)}, id, to, ymd(on), note, by, pharmacy).Slice()
	if err != nil {
		return false, fmt.Errorf("record response: %w", err)
	}
	switch n, _ := res[0].(int64); n {
	case 1:
		return true, nil
	case 2:
		return false, nil
	case -1:
		return false, ErrNotFound
	}
	reason, _ := res[1].(string)
	switch reason {
	case "answered":
		st, _ := res[2].(string)
		on, _ := res[3].(string)
		reason = fmt.Sprintf("the item was already answered %s on %s", st, fromYMD(on))
	case "superseded":
		by, _ := res[3].(string)
		reason = fmt.Sprintf("the item was never sent: %s superseded it; answer that one", by)
	}
	return false, NotAllowedError{Reason: reason}
}

// errStale means an item of a communication is no longer pending.
var errStale = fmt.Errorf("an item is no longer pending")

// Send stores a communication and marks its items sent (see sendScript); it
// reports false when the communication already exists.
func (s *Store) Send(ctx context.Context, c *outreachv1.Communication, plan string, deadline civil.Date) (bool, error) {
	pb, err := proto.Marshal(c)
	if err != nil {
		return false, err
	}
	args := []any{c.CommunicationId, pb, plan, c.PrescriberNpi, c.Period, ymd(civil.FromProto(c.CreatedOn)), ymd(deadline)}
	for _, it := range c.Items {
		args = append(args, it.ItemId)
	}
	res, err := sendScript.Run(ctx, s.rdb, []string{commKey(c.CommunicationId)}, args...).Slice()
	if err != nil {
		return false, fmt.Errorf("send communication: %w", err)
	}
	switch n, _ := res[0].(int64); n {
	case 1:
		return true, nil
	case 0:
		return false, nil
	}
	return false, errStale
}

// MarkNoResponse marks a sent item past its deadline; it reports whether it did.
func (s *Store) MarkNoResponse(ctx context.Context, id string, today civil.Date) (bool, error) {
	n, err := noResponseScript.Run(ctx, s.rdb, []string{itemKey(id)}, id, ymd(today)).Int()
	return n == 1, err
}

// PastDeadline lists sent items whose response deadline is before d.
func (s *Store) PastDeadline(ctx context.Context, d civil.Date, limit int64) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: keySent, ByScore: true, Start: "-inf", Stop: "(" + strconv.Itoa(ymd(d)), Count: limit}).Result()
}

// Get reads an item: its static part as raised and its current state.
func (s *Store) Get(ctx context.Context, id string) (*outreachv1.OutreachItem, error) {
	h, err := s.rdb.HGetAll(ctx, itemKey(id)).Result()
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, nil
	}
	var it outreachv1.OutreachItem
	if err := proto.Unmarshal([]byte(h["pb"]), &it); err != nil {
		return nil, fmt.Errorf("item %s unreadable: %w", id, err)
	}
	it.Status = enums.Of[outreachv1.OutreachStatus](h["status"])
	it.CommunicationId = h["comm"]
	it.SentOn = fromYMD(h["sent"]).Proto()
	it.RespondedOn = fromYMD(h["resp"]).Proto()
	it.ResponseNote = h["note"]
	it.RespondedBy = h["rby"]
	it.RespondedPharmacyNpi = h["rph"]
	it.SuppressedUntil = fromYMD(h["supp"]).Proto()
	it.SupersededBy = h["sby"]
	v, _ := strconv.Atoi(h["v"])
	it.Version = int32(v)
	return &it, nil
}

// Published reports whether the item's current version is on the bus.
func (s *Store) Published(ctx context.Context, id string) (bool, error) {
	return s.items.Published(ctx, id)
}

// MarkItemPublished records that version v of an item is on the bus.
func (s *Store) MarkItemPublished(ctx context.Context, id string, v int32) error {
	return s.items.MarkPublished(ctx, id, v)
}

// RelayItems hands up to limit items with a change not yet on the bus to publish.
func (s *Store) RelayItems(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error {
	return s.items.Relay(ctx, limit, publish)
}

// RelayComms hands up to limit letters not yet on the bus to publish.
func (s *Store) RelayComms(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error {
	return s.comms.Relay(ctx, limit, publish)
}

// MarkCommPublished records that a communication is on the bus.
func (s *Store) MarkCommPublished(ctx context.Context, id string) error {
	return s.comms.MarkPublished(ctx, id, 0)
}

// Comm reads a communication.
func (s *Store) Comm(ctx context.Context, id string) (*outreachv1.Communication, error) {
	pb, err := s.rdb.HGet(ctx, commKey(id), "pb").Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c outreachv1.Communication
	if err := proto.Unmarshal([]byte(pb), &c); err != nil {
		return nil, fmt.Errorf("communication %s unreadable: %w", id, err)
	}
	return &c, nil
}

// Comms lists a prescriber's communication ids, newest first.
func (s *Store) Comms(ctx context.Context, npi string, limit int) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: prefixComms + npi, Start: 0, Stop: int64(limit) - 1, Rev: true}).Result()
}

// PendingQueues lists the (plan, prescriber) pairs with pending items.
func (s *Store) PendingQueues(ctx context.Context) ([][2]string, error) {
	vals, err := s.rdb.SMembers(ctx, keyPendSet).Result()
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(vals))
	for _, v := range vals {
		plan, npi, _ := strings.Cut(v, "|")
		out = append(out, [2]string{plan, npi})
	}
	return out, nil
}

// Oldest returns the creation date of a queue's oldest pending item (zero when none).
func (s *Store) Oldest(ctx context.Context, plan, npi string) (civil.Date, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, pendingKey(plan, npi), 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return civil.Date{}, err
	}
	return fromYMD(strconv.Itoa(int(zs[0].Score))), nil
}

// PendingBefore lists up to limit pending items of a queue created before d, oldest first.
func (s *Store) PendingBefore(ctx context.Context, plan, npi string, d civil.Date, limit int64) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: pendingKey(plan, npi), ByScore: true, Start: "-inf", Stop: "(" + strconv.Itoa(ymd(d)), Count: limit}).Result()
}

// CommsInPeriod counts the communications a queue got in a period.
func (s *Store) CommsInPeriod(ctx context.Context, plan, npi, period string) (int, error) {
	n, err := s.rdb.Get(ctx, prefixCommN+plan+"|"+npi+"|"+period).Int()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// LastItem returns the id of the latest item raised for a problem of a patient with a prescriber.
func (s *Store) LastItem(ctx context.Context, npi, member, problemKey string) (string, error) {
	id, err := s.rdb.HGet(ctx, prefixLast+npi+"|"+member+"|"+problemKey, "id").Result()
	if err == redis.Nil {
		return "", nil
	}
	return id, err
}

// Unmatched records an encounter response that named no item.
func (s *Store) Unmatched(ctx context.Context, key string) error {
	return s.rdb.SAdd(ctx, keyUnmatched, key).Err()
}

// ItemsOf lists a prescriber's items, newest first.
func (s *Store) ItemsOf(ctx context.Context, npi string, limit int) ([]*outreachv1.OutreachItem, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: prefixNPIItems + npi, Start: 0, Stop: int64(limit) - 1, Rev: true}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*outreachv1.OutreachItem, 0, len(ids))
	for _, id := range ids {
		it, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if it != nil {
			out = append(out, it)
		}
	}
	return out, nil
}

// Counts are the counters behind GetOutreachCounts and GetOutreachStats.
type Counts struct {
	Items, Comms, Suppressed, Unmatched int64
	ByProblem                           map[string]int64
	ByNPI, ByCode                       map[string]map[string]int64
}

// Counts reads every counter.
func (s *Store) Counts(ctx context.Context) (*Counts, error) {
	c := &Counts{ByProblem: map[string]int64{}, ByNPI: map[string]map[string]int64{}, ByCode: map[string]map[string]int64{}}
	vals, err := s.rdb.MGet(ctx, keyItems, keyComms).Result()
	if err != nil {
		return nil, err
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	c.Items, c.Comms = num(vals[0]), num(vals[1])
	if c.Suppressed, err = s.rdb.SCard(ctx, keySuppressed).Result(); err != nil {
		return nil, err
	}
	if c.Unmatched, err = s.rdb.SCard(ctx, keyUnmatched).Result(); err != nil {
		return nil, err
	}
	hashes := func(set, prefix string, into map[string]map[string]int64) error {
		keys, err := s.rdb.SMembers(ctx, set).Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			h, err := s.rdb.HGetAll(ctx, prefix+k).Result()
			if err != nil {
				return err
			}
			m := map[string]int64{}
			for st, v := range h {
				m[st], _ = strconv.ParseInt(v, 10, 64)
			}
			into[k] = m
		}
		return nil
	}
	if err := hashes(keyNPIs, prefixStatNPI, c.ByNPI); err != nil {
		return nil, err
	}
	if err := hashes(keyCodes, prefixStatCod, c.ByCode); err != nil {
		return nil, err
	}
	for code := range c.ByCode {
		n, err := s.rdb.Get(ctx, prefixProblem+code).Int64()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		c.ByProblem[code] = n
	}
	return c, nil
}
