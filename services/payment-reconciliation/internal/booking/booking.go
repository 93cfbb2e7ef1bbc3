// Package booking books the ledger entries of payment events exactly once:
// entries are published to EMTM_LEDGER (the record, synced to disk and
// deduplicated by entry id), then applied to the Redis projection together
// with the source event's processed-marker in one script. A redelivered or
// replayed event finds its marker and changes nothing.
package booking

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ledger"
)

// Publisher publishes to the bus.
type Publisher interface {
	Publish(ctx context.Context, outs ...bus.Out) ([]*jetstream.PubAck, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Redis keys of the ledger projection.
const (
	keyEntries  = "pr:entries"  // list of entry ids in booking order
	keyEntryPB  = "pr:entry"    // hash: entry id -> LedgerEntry
	keyTotals   = "pr:totals"   // hash: entries, cents
	keyBalances = "pr:balances" // hash: account -> cents (debits positive, credits negative)
)

func doneKey(eventID string) string { return "pr:done:" + eventID }

// Booker runs the use case.
type Booker struct {
	rdb      *redis.Client
	pub      Publisher
	schedule *feeschedule.Schedule
	log      *slog.Logger
}

// New returns a Booker.
func New(rdb *redis.Client, pub Publisher, schedule *feeschedule.Schedule, log *slog.Logger) *Booker {
	return &Booker{rdb: rdb, pub: pub, schedule: schedule, log: log}
}

// OnEncounter books the fees of an MTM encounter.
func (b *Booker) OnEncounter(ctx context.Context, e *encountersv1.MtmEncounter) error {
	src := e.GetMeta().GetEventId()
	if src == "" {
		return bus.Permanent(fmt.Errorf("encounter without an event id"))
	}
	done, err := b.rdb.Exists(ctx, doneKey(src)).Result()
	if err != nil {
		return err
	}
	if done == 1 {
		return nil
	}
	entries, unpriced := ledger.ForEncounter(ledger.Encounter{
		EventID: src, EncounterID: e.EncounterId, ContractID: e.ContractId, PbpID: e.PbpId,
		PharmacyNPI: e.PharmacyNpi, ServiceDate: civil.FromProto(e.ServiceDate), ServiceCodes: e.ServiceCodes,
		Completed: e.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
	}, b.schedule)
	for _, u := range unpriced {
		b.log.Warn("service code without a fee rule; not booked", "code", u.Code, "schedule", b.schedule.Name)
	}
	return b.book(ctx, src, entries)
}

func (b *Booker) book(ctx context.Context, src string, entries []ledger.Entry) error {
	outs := make([]bus.Out, 0, len(entries))
	ops := make([]redisx.Op, 0, 3*len(entries)+1)
	var cents int64
	for _, x := range entries {
		msg := &ledgerv1.LedgerEntry{
			Meta:    b.pub.Meta(ctx, x.ID, src),
			EntryId: x.ID, DebitAccount: x.Debit, CreditAccount: x.Credit, AmountCents: x.AmountCents,
			ContractId: x.ContractID, PbpId: x.PbpID,
			ServiceMonth: &typesv1.YearMonth{Year: int32(x.Month.Year), Month: int32(x.Month.Month)},
			Rule:         x.Rule, SourceEventId: src, Memo: x.Memo,
			BookedOn: civil.Today(time.UTC).Proto(),
		}
		pb, err := proto.Marshal(msg)
		if err != nil {
			return err
		}
		outs = append(outs, bus.Out{Subject: bus.LedgerSubject(x.ContractID), MsgID: x.ID, Msg: msg})
		ops = append(ops,
			redisx.RPush(keyEntries, x.ID),
			redisx.HSet(keyEntryPB, x.ID, pb),
			redisx.HIncrBy(keyBalances, x.Debit, x.AmountCents),
			redisx.HIncrBy(keyBalances, x.Credit, -x.AmountCents))
		cents += x.AmountCents
	}
	if len(outs) > 0 {
		if _, err := b.pub.Publish(ctx, outs...); err != nil {
			return err
		}
		ops = append(ops, redisx.HIncrBy(keyTotals, "entries", int64(len(entries))), redisx.HIncrBy(keyTotals, "cents", cents))
	}
	_, err := redisx.Apply(ctx, b.rdb, doneKey(src), 0, ops...)
	return err
}

// Totals returns the number of entries, their total and the account balances.
func (b *Booker) Totals(ctx context.Context) (entries, cents int64, balances map[string]int64, err error) {
	t, err := b.rdb.HGetAll(ctx, keyTotals).Result()
	if err != nil {
		return 0, 0, nil, err
	}
	entries, _ = strconv.ParseInt(t["entries"], 10, 64)
	cents, _ = strconv.ParseInt(t["cents"], 10, 64)
	raw, err := b.rdb.HGetAll(ctx, keyBalances).Result()
	if err != nil {
		return 0, 0, nil, err
	}
	balances = make(map[string]int64, len(raw))
	for k, v := range raw {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("balance %s: %w", k, err)
		}
		balances[k] = n
	}
	return entries, cents, balances, nil
}

// Entries lists booked entries in booking order, optionally for one contract.
func (b *Booker) Entries(ctx context.Context, contract string, limit int) ([]*ledgerv1.LedgerEntry, error) {
	ids, err := b.rdb.LRange(ctx, keyEntries, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	var out []*ledgerv1.LedgerEntry
	for start := 0; start < len(ids) && len(out) < limit; start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		vals, err := b.rdb.HMGet(ctx, keyEntryPB, chunk...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			s, _ := v.(string)
			var e ledgerv1.LedgerEntry
			if err := proto.Unmarshal([]byte(s), &e); err != nil {
				return nil, fmt.Errorf("entry %s unreadable: %w", chunk[i], err)
			}
			if contract == "" || e.ContractId == contract {
				out = append(out, &e)
				if len(out) == limit {
					break
				}
			}
		}
	}
	return out, nil
}

// SortedAccounts returns the accounts of balances in order (for stable output).
func SortedAccounts(balances map[string]int64) []string {
	out := make([]string, 0, len(balances))
	for k := range balances {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
