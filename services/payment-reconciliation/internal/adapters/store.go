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
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/booking"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
)

// keys are the Redis keys under one prefix, each built by one function.
type keys struct{ prefix string }

// LivePrefix prefixes every key of the live ledger.
const LivePrefix = "pr:"

// ClockKey is the payment clock (the latest service date seen, on the event clock).
const ClockKey = LivePrefix + "clock"

func (k keys) entries() string  { return k.prefix + "entries" }  // list: entry ids in booking order
func (k keys) entryPB() string  { return k.prefix + "entry" }    // hash: entry id -> LedgerEntry
func (k keys) totals() string   { return k.prefix + "totals" }   // hash: entries, cents
func (k keys) balances() string { return k.prefix + "balances" } // hash: account -> cents (debits positive, credits negative)
func (k keys) suspense() string { return k.prefix + "suspense" } // list: suspense entry ids
func (k keys) members() string  { return k.prefix + "members" }  // set: members with enrollment spans
func (k keys) dirty() string    { return k.prefix + "dirty" }    // set: members whose spans changed since the last sweep
func (k keys) swept() string    { return k.prefix + "swept" }    // the month (YYYY-MM) the last sweep booked through
func (k keys) plans() string    { return k.prefix + "plans" }    // set: plans with entries or Parts A/B summaries
func (k keys) clock() string    { return k.prefix + "clock" }

func (k keys) done(eventID string) string { return k.prefix + "done:" + eventID }
func (k keys) entryDone(id string) string { return k.prefix + "e:" + id }
func (k keys) month(plan string, m civil.Date) string {
	return fmt.Sprintf("%smonth:%s:%04d-%02d", k.prefix, plan, m.Year, int(m.Month))
}
func (k keys) span(member string) string  { return k.prefix + "span:" + member }
func (k keys) mm(member string) string    { return k.prefix + "mm:" + member }
func (k keys) mmCount(plan string) string { return k.prefix + "mmcount:" + plan }
func (k keys) ab(plan string, year int) string {
	return fmt.Sprintf("%sab:%s:%d", k.prefix, plan, year)
}
func (k keys) perf(plan string) string    { return k.prefix + "perf:" + plan }
func (k keys) abYears(plan string) string { return k.prefix + "abyears:" + plan }

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

// projectionOps are what one entry does to the projection. They are applied
// under the entry's own marker, live and when rebuilding, so an entry seen
// twice (a redelivery, a stream duplicate) counts once.
func (k keys) projectionOps(e *ledgerv1.LedgerEntry, pb []byte) []redisx.Op {
	plan := planid.Of(e).String()
	m := civil.Date{Year: int(e.GetServiceMonth().GetYear()), Month: monthOf(e.GetServiceMonth().GetMonth()), Day: 1}
	ops := []redisx.Op{
		redisx.RPush(k.entries(), e.EntryId),
		redisx.HSet(k.entryPB(), e.EntryId, pb),
		redisx.HIncrBy(k.balances(), e.DebitAccount, e.AmountCents),
		redisx.HIncrBy(k.balances(), e.CreditAccount, -e.AmountCents),
		redisx.HIncrBy(k.totals(), "entries", 1),
		redisx.HIncrBy(k.totals(), "cents", e.AmountCents),
		redisx.HIncrBy(k.totals(), "kind:"+enums.Name(e.Kind), 1),
		redisx.RPush(k.month(plan, m), e.EntryId),
		redisx.SAdd(k.plans(), plan),
	}
	if e.SourceEventId != "" && (e.Kind == ledgerv1.EntryKind_ENTRY_KIND_FEE || e.Kind == ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE) {
		ops = append(ops, redisx.Set(k.done(e.SourceEventId), "1"))
	}
	field := plan + "|" + ym(m)
	switch e.Kind {
	case ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE:
		ops = append(ops, redisx.RPush(k.suspense(), e.EntryId))
	case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE:
		ops = append(ops, redisx.HSet(k.mm(e.MemberId), field, e.EntryId), redisx.HIncrBy(k.mm(e.MemberId), "g:"+field, 1),
			redisx.HIncrBy(k.mmCount(plan), strconv.Itoa(m.Year), 1))
	case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT:
		ops = append(ops, redisx.Op{Cmd: "HDEL", Key: k.mm(e.MemberId), Args: []any{field}},
			redisx.HIncrBy(k.mmCount(plan), strconv.Itoa(m.Year), -1))
	case ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE:
		y := perfYear(e.EntryId)
		ops = append(ops, redisx.HSet(k.perf(plan), y, e.EntryId, y+":cents", e.AmountCents), redisx.HIncrBy(k.perf(plan), y+":g", 1))
	case ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE_ADJUSTMENT:
		y := perfYear(e.ReversesEntryId)
		ops = append(ops, redisx.HSet(k.perf(plan), y, "", y+":cents", 0))
	}
	return ops
}

// applyEntry adds an entry to the projection unless it is there already.
func (k keys) applyEntry(ctx context.Context, rdb redis.UniversalClient, e *ledgerv1.LedgerEntry) (bool, error) {
	pb, err := proto.Marshal(e)
	if err != nil {
		return false, err
	}
	return redisx.Apply(ctx, rdb, k.entryDone(e.EntryId), 0, k.projectionOps(e, pb)...)
}

// entry reads one entry (nil when unknown).
func (k keys) entry(ctx context.Context, rdb redis.UniversalClient, id string) (*ledgerv1.LedgerEntry, error) {
	s, err := rdb.HGet(ctx, k.entryPB(), id).Result()
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

// entries reads entries by id, in order.
func (k keys) entriesByID(ctx context.Context, rdb redis.UniversalClient, ids []string) ([]*ledgerv1.LedgerEntry, error) {
	out := make([]*ledgerv1.LedgerEntry, 0, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		vals, err := rdb.HMGet(ctx, k.entryPB(), chunk...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("entry %s is indexed but missing", chunk[i])
			}
			var e ledgerv1.LedgerEntry
			if err := proto.Unmarshal([]byte(s), &e); err != nil {
				return nil, fmt.Errorf("entry %s unreadable: %w", chunk[i], err)
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

func spanValue(plan string, start, end civil.Date, eventID string) string {
	e := ""
	if !end.IsZero() {
		e = end.String()
	}
	return plan + "|" + start.String() + "|" + e + "|" + eventID
}

// totals reads the counters.
func (k keys) totalsOf(ctx context.Context, rdb redis.UniversalClient) (booking.Totals, error) {
	t := booking.Totals{Balances: map[string]int64{}, ByKind: map[string]int64{}, MemberMonths: map[string]int64{}, AB: map[string]int64{}}
	h, err := rdb.HGetAll(ctx, k.totals()).Result()
	if err != nil {
		return t, err
	}
	t.Entries, _ = strconv.ParseInt(h["entries"], 10, 64)
	t.Cents, _ = strconv.ParseInt(h["cents"], 10, 64)
	for k, v := range h {
		if kind, ok := strings.CutPrefix(k, "kind:"); ok {
			t.ByKind[kind], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	readInto := func(key, prefix string, into map[string]int64) error {
		h, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		for k, v := range h {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s %s: %w", key, k, err)
			}
			into[prefix+k] = n
		}
		return nil
	}
	if err := readInto(k.balances(), "", t.Balances); err != nil {
		return t, err
	}
	plans, err := rdb.SMembers(ctx, k.plans()).Result()
	if err != nil {
		return t, err
	}
	for _, p := range plans {
		if err := readInto(k.mmCount(p), p+"|", t.MemberMonths); err != nil {
			return t, err
		}
		years, err := rdb.SMembers(ctx, k.abYears(p)).Result()
		if err != nil {
			return t, err
		}
		for _, y := range years {
			if err := readInto(k.prefix+"ab:"+p+":"+y, p+":"+y+"|", t.AB); err != nil {
				return t, err
			}
		}
	}
	return t, nil
}

// Store implements booking.Store on Redis.
type Store struct {
	rdb redis.UniversalClient
	k   keys
}

// NewStore returns the live ledger's store.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb, k: keys{prefix: LivePrefix}} }

var _ booking.Store = (*Store)(nil)

// ApplyEntry implements booking.Store.
func (s *Store) ApplyEntry(ctx context.Context, e *ledgerv1.LedgerEntry) (bool, error) {
	return s.k.applyEntry(ctx, s.rdb, e)
}

// EntryBooked implements booking.Store.
func (s *Store) EntryBooked(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.k.entryDone(id)).Result()
	return n == 1, err
}

// Entry implements booking.Store.
func (s *Store) Entry(ctx context.Context, id string) (*ledgerv1.LedgerEntry, error) {
	return s.k.entry(ctx, s.rdb, id)
}

// Entries implements booking.Store.
func (s *Store) Entries(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error) {
	return s.k.entriesByID(ctx, s.rdb, ids)
}

// EntryIDs implements booking.Store.
func (s *Store) EntryIDs(ctx context.Context) ([]string, error) {
	return s.rdb.LRange(ctx, s.k.entries(), 0, -1).Result()
}

// MonthEntryIDs implements booking.Store.
func (s *Store) MonthEntryIDs(ctx context.Context, plan string, month civil.Date) ([]string, error) {
	return s.rdb.LRange(ctx, s.k.month(plan, month), 0, -1).Result()
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
// its id, and the member is left for the next sweep, in one transaction.
func (s *Store) RecordSpan(ctx context.Context, member string, sp membermonths.Span) error {
	v := spanValue(sp.Plan, sp.Start, sp.End, sp.EventID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.k.span(member), sp.ID, v)
		p.SAdd(ctx, s.k.members(), member)
		p.SAdd(ctx, s.k.dirty(), member)
		return nil
	})
	return err
}

// Spans implements booking.Store.
func (s *Store) Spans(ctx context.Context, member string) ([]membermonths.Span, error) {
	return s.k.spans(ctx, s.rdb, member)
}

// Members implements booking.Store.
func (s *Store) Members(ctx context.Context, changedOnly bool) ([]string, error) {
	if changedOnly {
		return s.rdb.SMembers(ctx, s.k.dirty()).Result()
	}
	return s.rdb.SMembers(ctx, s.k.members()).Result()
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
	return s.rdb.SRem(ctx, s.k.dirty(), member).Err()
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
// sums in one atomic step).
func (s *Store) AddPartsAB(ctx context.Context, eventID, plan string, year int, cents int64) error {
	_, err := redisx.Apply(ctx, s.rdb, s.k.done(eventID), 0,
		redisx.HIncrBy(s.k.ab(plan, year), "cents", cents), redisx.HIncrBy(s.k.ab(plan, year), "summaries", 1),
		redisx.SAdd(s.k.abYears(plan), strconv.Itoa(year)), redisx.SAdd(s.k.plans(), plan))
	return err
}

// PartsAB implements booking.Store.
func (s *Store) PartsAB(ctx context.Context, plan string, year int) (cents, summaries int64, err error) {
	ab, err := s.rdb.HGetAll(ctx, s.k.ab(plan, year)).Result()
	if err != nil {
		return 0, 0, err
	}
	cents, _ = strconv.ParseInt(ab["cents"], 10, 64)
	summaries, _ = strconv.ParseInt(ab["summaries"], 10, 64)
	return cents, summaries, nil
}

// MemberMonthCount implements booking.Store.
func (s *Store) MemberMonthCount(ctx context.Context, plan string, year int) (int64, error) {
	n, err := s.rdb.HGet(ctx, s.k.mmCount(plan), strconv.Itoa(year)).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// PerformanceEntry implements booking.Store.
func (s *Store) PerformanceEntry(ctx context.Context, plan string, year int) (id string, generation int, err error) {
	vals, err := s.rdb.HMGet(ctx, s.k.perf(plan), strconv.Itoa(year), strconv.Itoa(year)+":g").Result()
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
	return &Store{rdb: s.rdb, k: keys{prefix: fmt.Sprintf("prrb:%d:", time.Now().UnixNano())}}
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
	if err := s.rdb.Del(ctx, o.k.dirty()).Err(); err != nil {
		return err
	}
	return s.rdb.SUnionStore(ctx, o.k.dirty(), s.k.dirty()).Err()
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
