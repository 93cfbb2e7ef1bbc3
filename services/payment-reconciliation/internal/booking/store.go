package booking

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
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ledger"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
)

// Redis keys. The ledger projection (entries, balances, indexes, member-month
// and performance state) is a function of the entries alone, so it can be
// rebuilt from EMTM_LEDGER; spans and Parts A/B totals come from their
// streams. Every key is under one prefix: LivePrefix for the live ledger, a
// shadow prefix for a rebuild (on the same Redis, never another).
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

// toProto turns an entry into its event.
func toProto(x ledger.Entry) *ledgerv1.LedgerEntry {
	return &ledgerv1.LedgerEntry{
		EntryId: x.ID, Kind: ledgerv1.EntryKind(x.Kind), DebitAccount: x.Debit, CreditAccount: x.Credit, AmountCents: x.AmountCents,
		ContractId: x.ContractID, PbpId: x.PbpID, ServiceMonth: &typesv1.YearMonth{Year: int32(x.Month.Year), Month: int32(x.Month.Month)},
		ServiceDate: protoDate(x.ServiceDate), Rule: x.Rule, SourceEventId: x.SourceEvent, ReversesEntryId: x.Reverses,
		Service: x.Service, PharmacyNpi: x.PharmacyNPI, MemberId: x.MemberID, Memo: x.Memo,
	}
}

func protoDate(d civil.Date) *typesv1.Date {
	if d.IsZero() {
		return nil
	}
	return d.Proto()
}

// fromProto turns an event back into an entry.
func fromProto(e *ledgerv1.LedgerEntry) ledger.Entry {
	return ledger.Entry{
		ID: e.EntryId, Kind: ledger.Kind(e.Kind), Debit: e.DebitAccount, Credit: e.CreditAccount, AmountCents: e.AmountCents,
		ContractID: e.ContractId, PbpID: e.PbpId, Month: civil.Date{Year: int(e.GetServiceMonth().GetYear()), Month: monthOf(e.GetServiceMonth().GetMonth()), Day: 1},
		ServiceDate: civil.FromProto(e.ServiceDate), Rule: e.Rule, SourceEvent: e.SourceEventId, Reverses: e.ReversesEntryId,
		Service: e.Service, PharmacyNPI: e.PharmacyNpi, MemberID: e.MemberId, Memo: e.Memo,
	}
}

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
func (k keys) applyEntry(ctx context.Context, rdb *redis.Client, e *ledgerv1.LedgerEntry) (bool, error) {
	pb, err := proto.Marshal(e)
	if err != nil {
		return false, err
	}
	return redisx.Apply(ctx, rdb, k.entryDone(e.EntryId), 0, k.projectionOps(e, pb)...)
}

// entry reads one entry (nil when unknown).
func (k keys) entry(ctx context.Context, rdb *redis.Client, id string) (*ledgerv1.LedgerEntry, error) {
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
func (k keys) entriesByID(ctx context.Context, rdb *redis.Client, ids []string) ([]*ledgerv1.LedgerEntry, error) {
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
func (k keys) spans(ctx context.Context, rdb *redis.Client, member string) ([]membermonths.Span, error) {
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

// Totals are the projection's counters.
type Totals struct {
	Entries, Cents int64
	Balances       map[string]int64
	ByKind         map[string]int64
	// MemberMonths by plan and year; AB by plan and year: cents and summaries.
	MemberMonths map[string]int64
	AB           map[string]int64
}

// totals reads the counters.
func (k keys) totalsOf(ctx context.Context, rdb *redis.Client) (Totals, error) {
	t := Totals{Balances: map[string]int64{}, ByKind: map[string]int64{}, MemberMonths: map[string]int64{}, AB: map[string]int64{}}
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
