// Package adapters keeps payment-reconciliation's state in Redis: the ledger
// projection (entries, balances, indexes, member-month and performance state,
// a function of the entries alone, so it can be rebuilt from EMTM_LEDGER), the
// enrollment spans and the Parts A/B totals (from their streams), and the
// markers of the events handled. Every key is under one prefix: LivePrefix for
// the live ledger, a shadow prefix for a rebuild (on the same Redis, never
// another). It implements booking.Store.
package adapters

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ledger"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
)

// keys are the Redis keys under one prefix, each built by one function. The
// projection is kept per partition: an entry's keys, and the aggregates it
// updates, carry the hash tag of its owner's partition (ledger.Owner), so
// booking an entry changes one Redis Cluster slot; reads merge or sum the
// partitions. Entries are ordered by their sequence on EMTM_LEDGER.
type keys struct {
	prefix string
	parts  redisx.Partitions
}

// LivePrefix prefixes every key of the live ledger.
const LivePrefix = "pr:"

// ClockKey is the payment clock (the latest service date seen, on the event clock).
const ClockKey = LivePrefix + ledgerTag + ":clock"

// ledgerTag tags the keys of the whole ledger: one slot, whatever the prefix,
// so that a rebuild's shadow key and its live twin can be renamed into each other.
const ledgerTag = "{ledger}"

// Of one partition (tag):
func (k keys) entries(tag string) string  { return k.prefix + tag + ":entries" }  // zset: entry id by ledger sequence
func (k keys) entryPB(tag string) string  { return k.prefix + tag + ":entry" }    // hash: entry id -> LedgerEntry
func (k keys) totals(tag string) string   { return k.prefix + tag + ":totals" }   // hash: entries, cents, kind:<kind>
func (k keys) balances(tag string) string { return k.prefix + tag + ":balances" } // hash: account -> cents (debits positive, credits negative)
func (k keys) suspense(tag string) string { return k.prefix + tag + ":suspense" } // list: suspense entry ids
func (k keys) members(tag string) string  { return k.prefix + tag + ":members" }  // set: members with enrollment spans
func (k keys) dirty(tag string) string    { return k.prefix + tag + ":dirty" }    // set: members whose spans changed since the last sweep
func (k keys) plans(tag string) string    { return k.prefix + tag + ":plans" }    // set: plans with entries or Parts A/B summaries
func (k keys) month(tag, plan string, m civil.Date) string {
	return fmt.Sprintf("%s%s:month:%s:%04d-%02d", k.prefix, tag, plan, m.Year, int(m.Month)) // zset: entry id by ledger sequence
}
func (k keys) mmCount(tag, plan string) string { return k.prefix + tag + ":mmcount:" + plan } // hash: year -> member months
func (k keys) ab(tag, plan string, year int) string {
	return fmt.Sprintf("%s%s:ab:%s:%d", k.prefix, tag, plan, year) // hash: cents, summaries
}
func (k keys) abYears(tag, plan string) string { return k.prefix + tag + ":abyears:" + plan }
func (k keys) perf(tag, plan string) string    { return k.prefix + tag + ":perf:" + plan } // hash: year -> entry id, year:cents, year:g

// Of one owner (a member, a source event), in its partition:
func (k keys) done(eventID string) string { return k.prefix + k.parts.Of(eventID) + ":done:" + eventID }
func (k keys) entryDone(owner, id string) string {
	return k.prefix + k.parts.Of(owner) + ":e:" + id
}
func (k keys) span(member string) string { return k.prefix + k.parts.Of(member) + ":span:" + member }
func (k keys) mm(member string) string   { return k.prefix + k.parts.Of(member) + ":mm:" + member }

// Of the whole ledger (one key each, never changed with another):
func (k keys) swept() string { return k.prefix + ledgerTag + ":swept" } // the month (YYYY-MM) the last sweep booked through
func (k keys) clock() string { return k.prefix + ledgerTag + ":clock" }

func monthOf(m int32) time.Month { return time.Month(m) }

func ym(m civil.Date) string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// perfYear is the performance year of a performance entry ("perf/<plan>/<year>/<n>").
func perfYear(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) >= 4 {
		return parts[2]
	}
	return ""
}

// ownerOf is the entry's owner (ledger.Owner).
func ownerOf(e *ledgerv1.LedgerEntry) string {
	return ledger.Owner(ledger.Kind(e.Kind), e.EntryId, e.MemberId, e.SourceEventId)
}

// projectionOps are what one entry, the seq-th on EMTM_LEDGER, does to the
// projection: all in its owner's partition. They are applied under the
// entry's own marker, live and when rebuilding, so an entry seen twice (a
// redelivery, a stream duplicate) counts once.
func (k keys) projectionOps(e *ledgerv1.LedgerEntry, pb []byte, seq uint64) []redisx.Op {
	plan := planid.Of(e).String()
	tag := k.parts.Of(ownerOf(e))
	m := civil.Date{Year: int(e.GetServiceMonth().GetYear()), Month: monthOf(e.GetServiceMonth().GetMonth()), Day: 1}
	ops := []redisx.Op{
		redisx.ZAdd(k.entries(tag), float64(seq), e.EntryId),
		redisx.HSet(k.entryPB(tag), e.EntryId, pb),
		redisx.HIncrBy(k.balances(tag), e.DebitAccount, e.AmountCents),
		redisx.HIncrBy(k.balances(tag), e.CreditAccount, -e.AmountCents),
		redisx.HIncrBy(k.totals(tag), "entries", 1),
		redisx.HIncrBy(k.totals(tag), "cents", e.AmountCents),
		redisx.HIncrBy(k.totals(tag), "kind:"+enums.Name(e.Kind), 1),
		redisx.ZAdd(k.month(tag, plan, m), float64(seq), e.EntryId),
		redisx.SAdd(k.plans(tag), plan),
	}
	field := plan + "|" + ym(m)
	switch e.Kind {
	case ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE:
		ops = append(ops, redisx.RPush(k.suspense(tag), e.EntryId))
	case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE:
		ops = append(ops, redisx.HSet(k.mm(e.MemberId), field, e.EntryId), redisx.HIncrBy(k.mm(e.MemberId), "g:"+field, 1),
			redisx.HIncrBy(k.mmCount(tag, plan), strconv.Itoa(m.Year), 1))
	case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT:
		ops = append(ops, redisx.Op{Cmd: "HDEL", Key: k.mm(e.MemberId), Args: []any{field}},
			redisx.HIncrBy(k.mmCount(tag, plan), strconv.Itoa(m.Year), -1))
	case ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE:
		y := perfYear(e.EntryId)
		ops = append(ops, redisx.HSet(k.perf(tag, plan), y, e.EntryId, y+":cents", e.AmountCents), redisx.HIncrBy(k.perf(tag, plan), y+":g", 1))
	case ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE_ADJUSTMENT:
		y := perfYear(e.ReversesEntryId)
		ops = append(ops, redisx.HSet(k.perf(tag, plan), y, "", y+":cents", 0))
	}
	return ops
}

// applyEntry adds an entry to the projection unless it is there already.
func (k keys) applyEntry(ctx context.Context, rdb redis.UniversalClient, e *ledgerv1.LedgerEntry, seq uint64) (bool, error) {
	pb, err := proto.Marshal(e)
	if err != nil {
		return false, err
	}
	applied, err := redisx.Apply(ctx, rdb, k.entryDone(ownerOf(e), e.EntryId), 0, k.projectionOps(e, pb, seq)...)
	if err != nil {
		return false, err
	}
	// A fee's source event is handled once its entries are booked. Its marker
	// is in the event's partition, not the entry's, so it is written on its
	// own (and again for every entry of the event: a SET is idempotent); the
	// entry's marker keeps the entry from being counted twice meanwhile.
	if e.SourceEventId != "" && (e.Kind == ledgerv1.EntryKind_ENTRY_KIND_FEE || e.Kind == ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE) {
		if err := rdb.Set(ctx, k.done(e.SourceEventId), "1", 0).Err(); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// entry reads one entry of owner (nil when unknown).
func (k keys) entry(ctx context.Context, rdb redis.UniversalClient, owner, id string) (*ledgerv1.LedgerEntry, error) {
	s, err := rdb.HGet(ctx, k.entryPB(k.parts.Of(owner)), id).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e ledgerv1.LedgerEntry
	if err := proto.Unmarshal([]byte(s), &e); err != nil {
		return nil, fmt.Errorf("entry %s unreadable: %w", id, err)
	}
	return &e, nil
}

// entriesByID reads entries by id, in order, looking in every partition.
// entriesByID reads entries by id; a missing one is an error unless missingOK (then it is left out).
func (k keys) entriesByID(ctx context.Context, rdb redis.UniversalClient, ids []string, missingOK bool) ([]*ledgerv1.LedgerEntry, error) {
	out := make([]*ledgerv1.LedgerEntry, 0, len(ids))
	tags := k.parts.All()
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		cmds := make([]*redis.SliceCmd, len(tags))
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, t := range tags {
				cmds[i] = p.HMGet(ctx, k.entryPB(t), chunk...)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for i, id := range chunk {
			var found string
			for _, c := range cmds {
				if s, ok := c.Val()[i].(string); ok {
					found = s
					break
				}
			}
			if found == "" {
				if missingOK {
					continue
				}
				return nil, fmt.Errorf("entry %s is indexed but missing", id)
			}
			var e ledgerv1.LedgerEntry
			if err := proto.Unmarshal([]byte(found), &e); err != nil {
				return nil, fmt.Errorf("entry %s unreadable: %w", id, err)
			}
			out = append(out, &e)
		}
	}
	return out, nil
}

// spans reads a member's enrollment spans, ordered by start.
func (k keys) spans(ctx context.Context, rdb redis.UniversalClient, member string) ([]membermonths.Span, error) {
	h, err := rdb.HGetAll(ctx, k.span(member)).Result()
	if err != nil {
		return nil, err
	}
	return spansOf(h)
}

// spansOf reads a member's stored spans, by start date.
func spansOf(h map[string]string) ([]membermonths.Span, error) {
	out := make([]membermonths.Span, 0, len(h))
	for id, v := range h {
		parts := strings.SplitN(v, "|", 4)
		if len(parts) != 4 {
			return nil, fmt.Errorf("span %s of a member is unreadable", id)
		}
		start, _ := civil.Parse(parts[1])
		end, _ := civil.Parse(parts[2])
		out = append(out, membermonths.Span{ID: id, Plan: parts[0], Start: start, End: end, EventID: parts[3]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// spansOfMany reads many members' spans in one pipeline (a Redis Cluster client splits it by node).
func (k keys) spansOfMany(ctx context.Context, rdb redis.UniversalClient, members []string) ([][]membermonths.Span, error) {
	cmds := make([]*redis.MapStringStringCmd, len(members))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HGetAll(ctx, k.span(m))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([][]membermonths.Span, len(members))
	for i, c := range cmds {
		ss, err := spansOf(c.Val())
		if err != nil {
			return nil, err
		}
		out[i] = ss
	}
	return out, nil
}

func spanValue(plan string, start, end civil.Date, eventID string) string {
	e := ""
	if !end.IsZero() {
		e = end.String()
	}
	return plan + "|" + start.String() + "|" + e + "|" + eventID
}

// totalsOf sums the counters of every partition.
func (k keys) totalsOf(ctx context.Context, rdb redis.UniversalClient) (booking.Totals, error) {
	t := booking.Totals{Balances: map[string]int64{}, ByKind: map[string]int64{}, MemberMonths: map[string]int64{}, AB: map[string]int64{}}
	// addInto adds hash key's counters to into, under prefix, overflow-checked.
	addInto := func(key, prefix string, into map[string]int64) error {
		h, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		for f, v := range h {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s %s: %w", key, f, err)
			}
			sum, err := money.Add(into[prefix+f], n)
			if err != nil {
				return fmt.Errorf("%s %s: the sum over partitions: %w", key, f, err)
			}
			into[prefix+f] = sum
		}
		return nil
	}
	counters := map[string]int64{}
	for _, tag := range k.parts.All() {
		if err := addInto(k.totals(tag), "", counters); err != nil {
			return t, err
		}
		if err := addInto(k.balances(tag), "", t.Balances); err != nil {
			return t, err
		}
		plans, err := rdb.SMembers(ctx, k.plans(tag)).Result()
		if err != nil {
			return t, err
		}
		for _, p := range plans {
			if err := addInto(k.mmCount(tag, p), p+"|", t.MemberMonths); err != nil {
				return t, err
			}
			years, err := rdb.SMembers(ctx, k.abYears(tag, p)).Result()
			if err != nil {
				return t, err
			}
			for _, y := range years {
				yr, err := strconv.Atoi(y)
				if err != nil {
					return t, fmt.Errorf("%s: year %q: %w", k.abYears(tag, p), y, err)
				}
				if err := addInto(k.ab(tag, p, yr), p+":"+y+"|", t.AB); err != nil {
					return t, err
				}
			}
		}
	}
	t.Entries, t.Cents = counters["entries"], counters["cents"]
	for f, v := range counters {
		if kind, ok := strings.CutPrefix(f, "kind:"); ok {
			t.ByKind[kind] = v
		}
	}
	return t, nil
}

// Store implements booking.Store on Redis.
type Store struct {
	rdb redis.UniversalClient
	k   keys
}

// NewStore returns the live ledger's store in a deployment of partitions partitions.
func NewStore(rdb redis.UniversalClient, partitions int) *Store {
	return &Store{rdb: rdb, k: keys{prefix: LivePrefix, parts: redisx.Partitions(partitions)}}
}

var _ booking.Store = (*Store)(nil)

// ApplyEntry implements booking.Store.
func (s *Store) ApplyEntry(ctx context.Context, e *ledgerv1.LedgerEntry, seq uint64) (bool, error) {
	return s.k.applyEntry(ctx, s.rdb, e, seq)
}

// EntryBooked implements booking.Store.
func (s *Store) EntryBooked(ctx context.Context, owner, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.k.entryDone(owner, id)).Result()
	return n == 1, err
}

// Entry implements booking.Store.
func (s *Store) Entry(ctx context.Context, owner, id string) (*ledgerv1.LedgerEntry, error) {
	return s.k.entry(ctx, s.rdb, owner, id)
}

// Entries implements booking.Store.
func (s *Store) Entries(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error) {
	return s.k.entriesByID(ctx, s.rdb, ids, false)
}

// FindEntries implements booking.Store.
func (s *Store) FindEntries(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error) {
	return s.k.entriesByID(ctx, s.rdb, ids, true)
}

// EntryIDs implements booking.Store.
func (s *Store) EntryIDs(ctx context.Context) ([]string, error) {
	zs, err := s.k.parts.ByScore(ctx, s.rdb, s.k.entries, "-inf", "+inf", 0) // in ledger order
	return redisx.Members(zs), err
}

// MonthEntryIDs implements booking.Store.
func (s *Store) MonthEntryIDs(ctx context.Context, plan string, month civil.Date) ([]string, error) {
	zs, err := s.k.parts.ByScore(ctx, s.rdb, func(tag string) string { return s.k.month(tag, plan, month) }, "-inf", "+inf", 0)
	return redisx.Members(zs), err
}

// Totals implements booking.Store.
func (s *Store) Totals(ctx context.Context) (booking.Totals, error) { return s.k.totalsOf(ctx, s.rdb) }

// Handled implements booking.Store.
func (s *Store) Handled(ctx context.Context, eventID string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.k.done(eventID)).Result()
	return n == 1, err
}

// MarkHandled implements booking.Store.
func (s *Store) MarkHandled(ctx context.Context, eventID string) error {
	return s.rdb.Set(ctx, s.k.done(eventID), "1", 0).Err()
}

// RecordSpan implements booking.Store: the span replaces the version under
// its id, and the member is left for the next sweep, in one transaction (in
// the member's partition).
func (s *Store) RecordSpan(ctx context.Context, member string, sp membermonths.Span) error {
	v := spanValue(sp.Plan, sp.Start, sp.End, sp.EventID)
	tag := s.k.parts.Of(member)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.k.span(member), sp.ID, v)
		p.SAdd(ctx, s.k.members(tag), member)
		p.SAdd(ctx, s.k.dirty(tag), member)
		return nil
	})
	return err
}

// Spans implements booking.Store.
func (s *Store) Spans(ctx context.Context, member string) ([]membermonths.Span, error) {
	return s.k.spans(ctx, s.rdb, member)
}

// SpansOf implements booking.Store: many members' spans in one round trip.
func (s *Store) SpansOf(ctx context.Context, members []string) ([][]membermonths.Span, error) {
	return s.k.spansOfMany(ctx, s.rdb, members)
}

// Members implements booking.Store: over every partition.
func (s *Store) Members(ctx context.Context, changedOnly bool) ([]string, error) {
	if changedOnly {
		return s.k.parts.Union(ctx, s.rdb, s.k.dirty)
	}
	return s.k.parts.Union(ctx, s.rdb, s.k.members)
}

// Swept implements booking.Store.
func (s *Store) Swept(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, s.k.swept()).Result()
	if err == redis.Nil {
		return "", nil
	}
	return v, err
}

// Reconciled implements booking.Store.
func (s *Store) Reconciled(ctx context.Context, member string) error {
	return s.rdb.SRem(ctx, s.k.dirty(s.k.parts.Of(member)), member).Err()
}

// SweptThrough implements booking.Store.
func (s *Store) SweptThrough(ctx context.Context, month string) error {
	return s.rdb.Set(ctx, s.k.swept(), month, 0).Err()
}

// MemberMonths implements booking.Store.
func (s *Store) MemberMonths(ctx context.Context, member string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, s.k.mm(member)).Result()
}

// AddPartsAB implements booking.Store: once per event (its marker and the
// sums in one atomic step, in the event's partition).
func (s *Store) AddPartsAB(ctx context.Context, eventID, plan string, year int, cents int64, priced bool) error {
	tag := s.k.parts.Of(eventID)
	count := []redisx.Op{redisx.HIncrBy(s.k.ab(tag, plan, year), "cents", cents), redisx.HIncrBy(s.k.ab(tag, plan, year), "summaries", 1)}
	if !priced {
		count = []redisx.Op{redisx.HIncrBy(s.k.ab(tag, plan, year), "unpriced", 1)}
	}
	_, err := redisx.Apply(ctx, s.rdb, s.k.done(eventID), 0, append(count,
		redisx.SAdd(s.k.abYears(tag, plan), strconv.Itoa(year)), redisx.SAdd(s.k.plans(tag), plan))...)
	return err
}

// PartsAB implements booking.Store: summed over every partition.
func (s *Store) PartsAB(ctx context.Context, plan string, year int) (cents, summaries, unpriced int64, err error) {
	for _, tag := range s.k.parts.All() {
		ab, err := s.rdb.HGetAll(ctx, s.k.ab(tag, plan, year)).Result()
		if err != nil {
			return 0, 0, 0, err
		}
		c, _ := strconv.ParseInt(ab["cents"], 10, 64)
		n, _ := strconv.ParseInt(ab["summaries"], 10, 64)
		u, _ := strconv.ParseInt(ab["unpriced"], 10, 64)
		if cents, err = money.Add(cents, c); err != nil {
			return 0, 0, 0, fmt.Errorf("the Parts A/B sums of %s %d: %w", plan, year, err)
		}
		summaries += n
		unpriced += u
	}
	return cents, summaries, unpriced, nil
}

// MemberMonthCount implements booking.Store: summed over every partition.
func (s *Store) MemberMonthCount(ctx context.Context, plan string, year int) (int64, error) {
	var total int64
	for _, tag := range s.k.parts.All() {
		n, err := s.rdb.HGet(ctx, s.k.mmCount(tag, plan), strconv.Itoa(year)).Int64()
		if err != nil && err != redis.Nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// PerformanceEntry implements booking.Store.
func (s *Store) PerformanceEntry(ctx context.Context, plan string, year int) (id string, generation int, err error) {
	key := s.k.perf(s.k.parts.Of(ledger.PerformanceSource(plan, year)), plan)
	vals, err := s.rdb.HMGet(ctx, key, strconv.Itoa(year), strconv.Itoa(year)+":g").Result()
	if err != nil {
		return "", 0, err
	}
	id, _ = vals[0].(string)
	if g, ok := vals[1].(string); ok {
		if generation, err = strconv.Atoi(g); err != nil {
			return "", 0, fmt.Errorf("performance generation of %s %d: %w", plan, year, err)
		}
	}
	return id, generation, nil
}

// EventClock implements booking.Store: the event clock kept beside the ledger.
func (s *Store) EventClock() clock.Events { return clock.Events{RDB: s.rdb, Key: s.k.clock()} }

// Shadow implements booking.Store.
func (s *Store) Shadow() booking.Store {
	return &Store{rdb: s.rdb, k: keys{prefix: fmt.Sprintf("prrb:%d:", time.Now().UnixNano()), parts: s.k.parts}}
}

// shadowOf checks that other is a Shadow of s.
func (s *Store) shadowOf(other booking.Store) (*Store, error) {
	o, ok := other.(*Store)
	if !ok || o.rdb != s.rdb {
		return nil, fmt.Errorf("%T is not a shadow of the ledger's store", other)
	}
	return o, nil
}

// CopySweepStateTo implements booking.Store.
func (s *Store) CopySweepStateTo(ctx context.Context, shadow booking.Store) error {
	o, err := s.shadowOf(shadow)
	if err != nil {
		return err
	}
	if swept, err := s.rdb.Get(ctx, s.k.swept()).Result(); err == nil {
		if err := s.rdb.Set(ctx, o.k.swept(), swept, 0).Err(); err != nil {
			return err
		}
	}
	for _, tag := range s.k.parts.All() { // the two sets of a partition share its tag
		if err := s.rdb.Del(ctx, o.k.dirty(tag)).Err(); err != nil {
			return err
		}
		if err := s.rdb.SUnionStore(ctx, o.k.dirty(tag), s.k.dirty(tag)).Err(); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceFrom implements booking.Store: redisx.ReplaceNamespace.
func (s *Store) ReplaceFrom(ctx context.Context, shadow booking.Store) error {
	o, err := s.shadowOf(shadow)
	if err != nil {
		return err
	}
	return redisx.ReplaceNamespace(ctx, s.rdb, o.k.prefix, s.k.prefix)
}

// Drop implements booking.Store.
func (s *Store) Drop(ctx context.Context) error { return redisx.DropNamespace(ctx, s.rdb, s.k.prefix) }
