package booking

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/emtm/emtm/libs/clock"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
)

// RebuildResult compares a rebuilt projection with the live one.
type RebuildResult struct {
	Replayed
	Live, Rebuilt Totals
	Differences   []string
	Replaced      bool
}

// Replayed counts the messages a rebuild read, by stream.
type Replayed struct {
	LedgerMessages, EnrollmentMessages, MedicalMessages int64
}

// Replayer hands the record to a rebuilding booker, in order: every ledger
// entry (RestoreEntry), then the enrollment spans and Parts A/B summaries the
// live consumers received (OnEnrollment, OnPartsAB).
type Replayer func(ctx context.Context, to *Booker) (Replayed, error)

// RestoreEntry writes a recorded ledger entry, the seq-th on EMTM_LEDGER,
// into the booker's projection, as booking it did (a rebuild replays the
// ledger through it).
func (b *Booker) RestoreEntry(ctx context.Context, e *ledgerv1.LedgerEntry, seq uint64) error {
	_, err := b.store.ApplyEntry(ctx, e, seq)
	return err
}

// Rebuild replays EMTM_LEDGER (the entries), EMTM_ENROLLMENT (the spans) and
// EMTM_MEDICAL (the Parts A/B summaries) into a shadow namespace of the
// service's own Redis and compares its totals with the live ledger's, to the
// cent. With replace, the rebuilt keys become the live ledger's (every key
// under LivePrefix); otherwise the shadow is removed. It dials nothing, and
// changes no key outside the ledger's: no database is flushed. Run it when
// the pipeline is quiet: entries booked during the rebuild show up as
// differences.
func (b *Booker) Rebuild(ctx context.Context, replay Replayer, replace bool) (res RebuildResult, err error) {
	shadow := b.store.Shadow()
	defer func() {
		if !res.Replaced {
			if derr := shadow.Drop(context.WithoutCancel(ctx)); derr != nil && err == nil {
				err = derr
			}
		}
	}()
	tb := &Booker{store: shadow, policies: b.policies, clock: clock.Wall{Loc: time.UTC}, log: b.log}
	if _, ok := b.clock.(clock.Events); ok {
		tb.clock = shadow.EventClock()
		today, err := b.clock.Today(ctx)
		if err != nil {
			return res, err
		}
		if err := tb.clock.Saw(ctx, today); err != nil {
			return res, err
		}
	}
	if res.Replayed, err = replay(ctx, tb); err != nil {
		return res, err
	}
	// The rebuilt store has booked what the live one had through the same
	// month, and has the same members' spans left to sweep.
	if err := b.store.CopySweepStateTo(ctx, shadow); err != nil {
		return res, err
	}
	if res.Live, err = b.store.Totals(ctx); err != nil {
		return res, err
	}
	if res.Rebuilt, err = shadow.Totals(ctx); err != nil {
		return res, err
	}
	res.Differences = compare(res.Live, res.Rebuilt)
	if replace {
		if err := b.store.ReplaceFrom(ctx, shadow); err != nil {
			return res, err
		}
		res.Replaced = true
	}
	return res, nil
}

func compare(live, rebuilt Totals) []string {
	var out []string
	if live.Entries != rebuilt.Entries {
		out = append(out, fmt.Sprintf("entries: live %d, rebuilt %d", live.Entries, rebuilt.Entries))
	}
	if live.Cents != rebuilt.Cents {
		out = append(out, fmt.Sprintf("total cents: live %d, rebuilt %d", live.Cents, rebuilt.Cents))
	}
	for _, m := range []struct {
		name string
		a, b map[string]int64
	}{{"balance", live.Balances, rebuilt.Balances}, {"entries of kind", live.ByKind, rebuilt.ByKind}, {"member months", live.MemberMonths, rebuilt.MemberMonths}, {"Parts A/B", live.AB, rebuilt.AB}} {
		keys := map[string]bool{}
		for k := range m.a {
			keys[k] = true
		}
		for k := range m.b {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if m.a[k] != m.b[k] {
				out = append(out, fmt.Sprintf("%s %s: live %d, rebuilt %d", m.name, k, m.a[k], m.b[k]))
			}
		}
	}
	return out
}
