// Package adapters keeps prescriber-outreach's state in Redis and implements
// outreach.Store. An item's state is one hash; sets and sorted sets index it.
// Every key is built by one function below and passed to Redis in KEYS; the
// rules (the repeat window, supersession, which answers are allowed, the
// response deadline) are decided in package outreach, and a change is written
// by redisx.Commit only while the items are at the versions it was decided on.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/outbox"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
)

// Redis keys. An item's state is one hash; sets and sorted sets index it.
// A prescriber's letters gather items of many patients, so outreach's keys
// are tagged by the prescriber's partition (Partitions.Of(npi)): an item, its
// queue, its letter and the counters and indexes they update are in one
// Redis Cluster slot. Counters and indexes exist per partition and are summed
// or merged on read. Item and letter ids name their prescriber
// (outreach.ItemNPI, outreach.CommNPI), so an id alone finds its keys.
const (
	keyClock     = "po:clock"     // the event clock
	keyUnmatched = "po:unmatched" // set: encounter responses that named no item (changed alone)
)

// Of a partition (tag):
func countItemsKey(tag string) string     { return "po:" + tag + ":count:items" }           // items ever raised
func countCommsKey(tag string) string     { return "po:" + tag + ":count:comms" }           // communications ever built
func npisKey(tag string) string           { return "po:" + tag + ":npis" }                  // set: prescribers with items
func codesKey(tag string) string          { return "po:" + tag + ":codes" }                 // set: problem codes with items
func pendSetKey(tag string) string        { return "po:" + tag + ":pendset" }               // set: "<plan>|<npi>" with pending items
func sentKey(tag string) string           { return "po:" + tag + ":sent" }                  // zset: sent item ids by response deadline (YYYYMMDD)
func unpubKey(tag string) string          { return "po:" + tag + ":unpub" }                 // set: items with a change not yet published
func unpubCommKey(tag string) string      { return "po:" + tag + ":unpubc" }                // set: communications not yet published
func suppressedKey(tag string) string     { return "po:" + tag + ":suppressed" }            // set: problems found again and not raised
func problemKey(tag, code string) string  { return "po:" + tag + ":count:problem:" + code } // items per problem code
func statCodeKey(tag, code string) string { return "po:" + tag + ":stats:code:" + code }    // hash: status -> items, per problem code
func statPlanKey(tag, plan string) string { return "po:" + tag + ":stats:plan:" + plan }    // hash: a plan's "npi|<npi>|<status>", "code|<code>|<status>", "comms" and "items" counts

// Store keeps outreach items and communications in Redis.
type Store struct {
	rdb   redis.UniversalClient
	parts redisx.Partitions
	items outbox.Outbox // items with a change not yet on the bus
	comms outbox.Outbox // letters not yet on the bus (a letter never changes)
}

// NewStore returns a Store for a deployment of partitions partitions.
func NewStore(rdb redis.UniversalClient, partitions int) *Store {
	s := &Store{rdb: rdb, parts: redisx.Partitions(partitions)}
	var items, comms []string
	for _, tag := range s.parts.All() {
		items, comms = append(items, unpubKey(tag)), append(comms, unpubCommKey(tag))
	}
	s.items = outbox.New(rdb, func(id string) string { return unpubKey(s.itemTag(id)) }, items, s.itemKey)
	s.comms = outbox.New(rdb, func(id string) string { return unpubCommKey(s.commTag(id)) }, comms, nil)
	return s
}

// ClockKey is the Redis key of outreach's event clock.
const ClockKey = keyClock

// tag is the hash tag of a prescriber's partition; itemTag and commTag find
// it from an id.
func (s *Store) tag(npi string) string    { return s.parts.Of(npi) }
func (s *Store) itemTag(id string) string { return s.tag(outreach.ItemNPI(id)) }
func (s *Store) commTag(id string) string { return s.tag(outreach.CommNPI(id)) }
func (s *Store) itemKey(id string) string { return "po:" + s.itemTag(id) + ":item:" + id }
func (s *Store) commKey(id string) string { return "po:" + s.commTag(id) + ":comm:" + id }
func (s *Store) pendingKey(plan, npi string) string {
	return "po:" + s.tag(npi) + ":pending:" + plan + "|" + npi // zset: pending item ids by creation date
}
func (s *Store) lastKey(npi, member, problemKey string) string {
	return "po:" + s.tag(npi) + ":last:" + npi + "|" + member + "|" + problemKey // hash: id, until
}
func (s *Store) statNPIKey(npi string) string { return "po:" + s.tag(npi) + ":stats:npi:" + npi } // hash: status -> items
func (s *Store) commsKey(npi string) string   { return "po:" + s.tag(npi) + ":comms:" + npi }     // zset: communication ids by date
func (s *Store) commCountKey(plan, npi, period string) string {
	return "po:" + s.tag(npi) + ":commcount:" + plan + "|" + npi + "|" + period // communications built
}
func (s *Store) prescriberKey(npi string) string { return "po:" + s.tag(npi) + ":prescriber:" + npi } // zset: item ids by creation date

func queue(plan, npi string) string { return plan + "|" + npi }

func ymd(d civil.Date) int        { return d.YMD() }
func fromYMD(s string) civil.Date { return civil.FromYMD(s) }

// Item implements outreach.Store.
func (s *Store) Item(ctx context.Context, id string) (outreach.Item, bool, error) {
	h, err := s.rdb.HGetAll(ctx, s.itemKey(id)).Result()
	if err != nil || len(h) == 0 {
		return outreach.Item{}, false, err
	}
	return outreach.Item{ID: id, NPI: h["npi"], Member: h["member"], ProblemKey: h["pkey"], Code: h["code"], Plan: h["plan"],
		Status: h["status"], Created: fromYMD(h["created"]), Deadline: fromYMD(h["deadline"]), Responded: fromYMD(h["resp"]),
		SupersededBy: h["sby"], Version: h["v"]}, true, nil
}

// Standing implements outreach.Store.
func (s *Store) Standing(ctx context.Context, npi, member, pkey string) (outreach.Standing, error) {
	h, err := s.rdb.HGetAll(ctx, s.lastKey(npi, member, pkey)).Result()
	if err != nil || h["id"] == "" {
		return outreach.Standing{}, err
	}
	it, found, err := s.Item(ctx, h["id"])
	if err != nil || !found {
		return outreach.Standing{}, err
	}
	return outreach.Standing{Item: &it, Until: fromYMD(h["until"])}, nil
}

// move is what a status change does to an item's indexes and counters: the
// version bumped and the change queued for publishing; all in the
// prescriber's partition.
func (s *Store) move(it outreach.Item, to string, deadline civil.Date) []redisx.Op {
	id, ik, tag := it.ID, s.itemKey(it.ID), s.tag(it.NPI)
	var ops []redisx.Op
	if it.Status == outreach.Pending && to != outreach.Pending {
		ops = append(ops, redisx.ZRem(s.pendingKey(it.Plan, it.NPI), id))
	}
	if it.Status == outreach.Sent && to != outreach.Sent {
		ops = append(ops, redisx.ZRem(sentKey(tag), id))
	}
	if to == outreach.Sent {
		ops = append(ops, redisx.ZAdd(sentKey(tag), float64(ymd(deadline)), id))
	}
	if it.Status != to {
		ops = append(ops, redisx.HIncrBy(s.statNPIKey(it.NPI), it.Status, -1), redisx.HIncrBy(s.statNPIKey(it.NPI), to, 1),
			redisx.HIncrBy(statCodeKey(tag, it.Code), it.Status, -1), redisx.HIncrBy(statCodeKey(tag, it.Code), to, 1))
		if it.Plan != "" {
			pk := statPlanKey(tag, it.Plan)
			ops = append(ops, redisx.HIncrBy(pk, "npi|"+it.NPI+"|"+it.Status, -1), redisx.HIncrBy(pk, "npi|"+it.NPI+"|"+to, 1),
				redisx.HIncrBy(pk, "code|"+it.Code+"|"+it.Status, -1), redisx.HIncrBy(pk, "code|"+it.Code+"|"+to, 1))
		}
	}
	return append(ops, redisx.HSet(ik, "status", to), redisx.HIncrBy(ik, "v", 1), redisx.SAdd(s.items.Unpublished(id), id))
}

// leftPending drops a prescriber's queue from the queues with pending items
// once its last pending item left (only while it is still empty).
func (s *Store) leftPending(ctx context.Context, it outreach.Item) error {
	if it.Status != outreach.Pending {
		return nil
	}
	err := redisx.Commit(ctx, s.rdb, []redisx.Guard{redisx.ZCardIs(s.pendingKey(it.Plan, it.NPI), 0)}, redisx.SRem(pendSetKey(s.tag(it.NPI)), queue(it.Plan, it.NPI)))
	if errors.Is(err, redisx.ErrGuard) {
		return nil // still has pending items
	}
	return err
}

// guarded writes ops under guards; a guard that no longer holds is outreach.ErrConflict.
func (s *Store) guarded(ctx context.Context, guards []redisx.Guard, ops ...redisx.Op) error {
	err := redisx.Commit(ctx, s.rdb, guards, ops...)
	if errors.Is(err, redisx.ErrGuard) {
		return fmt.Errorf("%w: %w", outreach.ErrConflict, err)
	}
	return err
}

// Create implements outreach.Store: it raises the item as r decided on the
// standing item, unless the item exists (Exists), while the standing item is
// the one it was decided on (else ErrConflict).
func (s *Store) Create(ctx context.Context, it *outreachv1.OutreachItem, plan string, until civil.Date, r outreach.Raise, standing outreach.Standing) (outreach.CreateResult, string, error) {
	id, ik, lk := it.ItemId, s.itemKey(it.ItemId), s.lastKey(it.PrescriberNpi, it.MemberId, it.ProblemKey)
	npi, tag := it.PrescriberNpi, s.tag(it.PrescriberNpi)
	standingID := ""
	if standing.Item != nil {
		standingID = standing.Item.ID
	}
	guards := []redisx.Guard{redisx.Absent(ik), redisx.FieldIs(lk, "id", standingID)}
	if r.Suppressed {
		return created(s.guarded(ctx, guards, redisx.SAdd(suppressedKey(tag), id)), outreach.NotRaised, standingID)
	}
	pb, err := proto.Marshal(it)
	if err != nil {
		return 0, "", err
	}
	var ops []redisx.Op
	superseded := ""
	if sup := r.Supersedes; sup != nil {
		superseded = sup.ID
		guards = append(guards, redisx.FieldIs(s.itemKey(sup.ID), "v", sup.Version))
		ops = append(ops, redisx.HSet(s.itemKey(sup.ID), "sby", id))
		ops = append(ops, s.move(*sup, outreach.Superseded, civil.Date{})...)
	}
	on := ymd(civil.FromProto(it.CreatedOn))
	ops = append(ops,
		redisx.HSet(ik, "pb", pb, "npi", it.PrescriberNpi, "member", it.MemberId, "pkey", it.ProblemKey, "code", it.ProblemCode, "plan", plan,
			"created", on, "supp", ymd(until), "status", outreach.Pending, "v", 1, "pub", 0),
		redisx.HSet(lk, "id", id, "until", ymd(until)),
		redisx.ZAdd(s.pendingKey(plan, npi), float64(on), id), redisx.SAdd(pendSetKey(tag), queue(plan, npi)),
		redisx.SAdd(npisKey(tag), npi), redisx.SAdd(codesKey(tag), it.ProblemCode), redisx.ZAdd(s.prescriberKey(npi), float64(on), id),
		redisx.HIncrBy(s.statNPIKey(npi), outreach.Pending, 1), redisx.HIncrBy(statCodeKey(tag, it.ProblemCode), outreach.Pending, 1),
		redisx.IncrBy(countItemsKey(tag), 1), redisx.IncrBy(problemKey(tag, it.ProblemCode), 1), redisx.SAdd(s.items.Unpublished(id), id),
		redisx.HIncrBy(statPlanKey(tag, plan), "npi|"+npi+"|"+outreach.Pending, 1), redisx.HIncrBy(statPlanKey(tag, plan), "code|"+it.ProblemCode+"|"+outreach.Pending, 1),
		redisx.HIncrBy(statPlanKey(tag, plan), "items", 1))
	if err := s.guarded(ctx, guards, ops...); err != nil {
		return created(err, outreach.Created, superseded)
	}
	if r.Supersedes != nil {
		if err := s.leftPending(ctx, *r.Supersedes); err != nil {
			return outreach.Created, superseded, err
		}
	}
	return outreach.Created, superseded, nil
}

// created reads a Create's outcome: the item exists already (its guard 0), a
// conflict to decide again, or done.
func created(err error, res outreach.CreateResult, other string) (outreach.CreateResult, string, error) {
	var ge *redisx.GuardError
	if errors.As(err, &ge) && ge.Index == 0 {
		return outreach.Exists, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	return res, other, nil
}

// Respond implements outreach.Store.
func (s *Store) Respond(ctx context.Context, a outreach.Answer) error {
	ik := s.itemKey(a.From.ID)
	ops := append([]redisx.Op{redisx.HSet(ik, "resp", ymd(a.On), "note", a.Note, "rby", a.By, "rph", a.Pharmacy)}, s.move(a.From, a.To, civil.Date{})...)
	if err := s.guarded(ctx, []redisx.Guard{redisx.FieldIs(ik, "v", a.From.Version)}, ops...); err != nil {
		return err
	}
	return s.leftPending(ctx, a.From)
}

// Send implements outreach.Store: the letter, and each of its items moved
// from PENDING to SENT, unless the letter exists (false), while every item
// is at the version it was read at (else ErrConflict).
func (s *Store) Send(ctx context.Context, c *outreachv1.Communication, plan string, deadline civil.Date, items []outreach.Item) (bool, error) {
	pb, err := proto.Marshal(c)
	if err != nil {
		return false, err
	}
	sent := ymd(civil.FromProto(c.CreatedOn))
	tag := s.tag(c.PrescriberNpi)
	guards := []redisx.Guard{redisx.Absent(s.commKey(c.CommunicationId))}
	var ops []redisx.Op
	for _, it := range items {
		if it.NPI != c.PrescriberNpi {
			return false, fmt.Errorf("letter %s to one prescriber carries item %s of another", c.CommunicationId, it.ID)
		}
		guards = append(guards, redisx.FieldIs(s.itemKey(it.ID), "v", it.Version))
		ops = append(ops, redisx.HSet(s.itemKey(it.ID), "comm", c.CommunicationId, "sent", sent, "deadline", ymd(deadline)))
		ops = append(ops, s.move(it, outreach.Sent, deadline)...)
	}
	ops = append(ops, redisx.HSet(s.commKey(c.CommunicationId), "pb", pb, "npi", c.PrescriberNpi, "plan", plan, "period", c.Period, "sent", sent),
		redisx.ZAdd(s.commsKey(c.PrescriberNpi), float64(sent), c.CommunicationId), redisx.IncrBy(s.commCountKey(plan, c.PrescriberNpi, c.Period), 1),
		redisx.IncrBy(countCommsKey(tag), 1), redisx.HIncrBy(statPlanKey(tag, plan), "comms", 1),
		redisx.SAdd(s.comms.Unpublished(c.CommunicationId), c.CommunicationId))
	err = s.guarded(ctx, guards, ops...)
	var ge *redisx.GuardError
	if errors.As(err, &ge) && ge.Index == 0 {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, it := range items {
		if err := s.leftPending(ctx, it); err != nil {
			return true, err
		}
	}
	return true, nil
}

// MarkNoResponse implements outreach.Store.
func (s *Store) MarkNoResponse(ctx context.Context, it outreach.Item) error {
	return s.guarded(ctx, []redisx.Guard{redisx.FieldIs(s.itemKey(it.ID), "v", it.Version)}, s.move(it, outreach.NoResponse, civil.Date{})...)
}

// Unsent implements outreach.Store: an item no longer SENT leaves the index of sent items.
func (s *Store) Unsent(ctx context.Context, it outreach.Item) error {
	return s.guarded(ctx, []redisx.Guard{redisx.FieldIs(s.itemKey(it.ID), "status", it.Status)}, redisx.ZRem(sentKey(s.itemTag(it.ID)), it.ID))
}

// PastDeadline lists up to limit sent items whose response deadline is
// before d, earliest first, from every partition.
func (s *Store) PastDeadline(ctx context.Context, d civil.Date, limit int64) ([]string, error) {
	zs, err := s.parts.ByScore(ctx, s.rdb, sentKey, "-inf", "("+strconv.Itoa(ymd(d)), limit)
	return redisx.Members(zs), err
}

// Get reads an item: its static part as raised and its current state.
func (s *Store) Get(ctx context.Context, id string) (*outreachv1.OutreachItem, error) {
	h, err := s.rdb.HGetAll(ctx, s.itemKey(id)).Result()
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
	pb, err := s.rdb.HGet(ctx, s.commKey(id), "pb").Result()
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
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.commsKey(npi), Start: 0, Stop: int64(limit) - 1, Rev: true}).Result()
}

// PendingQueues lists the (plan, prescriber) pairs with pending items.
func (s *Store) PendingQueues(ctx context.Context) ([][2]string, error) {
	vals, err := s.parts.Union(ctx, s.rdb, pendSetKey)
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
	zs, err := s.rdb.ZRangeWithScores(ctx, s.pendingKey(plan, npi), 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return civil.Date{}, err
	}
	return fromYMD(strconv.Itoa(int(zs[0].Score))), nil
}

// PendingBefore lists up to limit pending items of a queue created before d, oldest first.
func (s *Store) PendingBefore(ctx context.Context, plan, npi string, d civil.Date, limit int64) ([]string, error) {
	return s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.pendingKey(plan, npi), ByScore: true, Start: "-inf", Stop: "(" + strconv.Itoa(ymd(d)), Count: limit}).Result()
}

// CommsInPeriod counts the communications a queue got in a period.
func (s *Store) CommsInPeriod(ctx context.Context, plan, npi, period string) (int, error) {
	n, err := s.rdb.Get(ctx, s.commCountKey(plan, npi, period)).Int()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// LastItem returns the id of the latest item raised for a problem of a patient with a prescriber.
func (s *Store) LastItem(ctx context.Context, npi, member, problemKey string) (string, error) {
	id, err := s.rdb.HGet(ctx, s.lastKey(npi, member, problemKey), "id").Result()
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
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.prescriberKey(npi), Start: 0, Stop: int64(limit) - 1, Rev: true}).Result()
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

// Counts reads every counter, summed over the partitions.
func (s *Store) Counts(ctx context.Context, plan string) (*outreach.Counts, error) {
	c := &outreach.Counts{ByProblem: map[string]int64{}, ByNPI: map[string]map[string]int64{}, ByCode: map[string]map[string]int64{}}
	if plan != "" {
		return s.planCounts(ctx, plan, c)
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	// add sums hash key's counters into into[name].
	add := func(key, name string, into map[string]map[string]int64) error {
		h, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		if into[name] == nil {
			into[name] = map[string]int64{}
		}
		for st, v := range h {
			n, _ := strconv.ParseInt(v, 10, 64)
			into[name][st] += n
		}
		return nil
	}
	var err error
	if c.Unmatched, err = s.rdb.SCard(ctx, keyUnmatched).Result(); err != nil {
		return nil, err
	}
	for _, tag := range s.parts.All() {
		// Each is one key: a cluster answers them wherever they are.
		items, err := s.rdb.Get(ctx, countItemsKey(tag)).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		comms, err := s.rdb.Get(ctx, countCommsKey(tag)).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		c.Items, c.Comms = c.Items+num(items), c.Comms+num(comms)
		n, err := s.rdb.SCard(ctx, suppressedKey(tag)).Result()
		if err != nil {
			return nil, err
		}
		c.Suppressed += n
		npis, err := s.rdb.SMembers(ctx, npisKey(tag)).Result()
		if err != nil {
			return nil, err
		}
		for _, npi := range npis {
			if err := add(s.statNPIKey(npi), npi, c.ByNPI); err != nil {
				return nil, err
			}
		}
		codes, err := s.rdb.SMembers(ctx, codesKey(tag)).Result()
		if err != nil {
			return nil, err
		}
		for _, code := range codes {
			if err := add(statCodeKey(tag, code), code, c.ByCode); err != nil {
				return nil, err
			}
			n, err := s.rdb.Get(ctx, problemKey(tag, code)).Int64()
			if err != nil && err != redis.Nil {
				return nil, err
			}
			c.ByProblem[code] += n
		}
	}
	return c, nil
}

// planCounts are a plan's counters summed over the partitions (suppressed
// and unmatched responses are counted for every plan only).
func (s *Store) planCounts(ctx context.Context, plan string, c *outreach.Counts) (*outreach.Counts, error) {
	for _, tag := range s.parts.All() {
		h, err := s.rdb.HGetAll(ctx, statPlanKey(tag, plan)).Result()
		if err != nil {
			return nil, err
		}
		for f, v := range h {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("outreach counter %s of a plan: %w", f, err)
			}
			parts := strings.Split(f, "|")
			switch {
			case f == "items":
				c.Items += n
			case f == "comms":
				c.Comms += n
			case len(parts) == 3 && parts[0] == "npi":
				if c.ByNPI[parts[1]] == nil {
					c.ByNPI[parts[1]] = map[string]int64{}
				}
				c.ByNPI[parts[1]][parts[2]] += n
			case len(parts) == 3 && parts[0] == "code":
				if c.ByCode[parts[1]] == nil {
					c.ByCode[parts[1]] = map[string]int64{}
				}
				c.ByCode[parts[1]][parts[2]] += n
			}
		}
	}
	for code, by := range c.ByCode {
		for _, n := range by {
			c.ByProblem[code] += n
		}
	}
	return c, nil
}

var _ outreach.Store = (*Store)(nil)
