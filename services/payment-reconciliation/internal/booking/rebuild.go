package booking

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/clock"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	"github.com/emtm/emtm/libs/redisx"
)

// RebuildResult compares a rebuilt projection with the live one.
type RebuildResult struct {
	LedgerMessages, EnrollmentMessages, MedicalMessages int64
	Live, Rebuilt                                       Totals
	Differences                                         []string
	Replaced                                            bool
}

// shadowPrefix is where a rebuild builds (keys under it are the rebuild's alone).
func shadowPrefix() string { return fmt.Sprintf("prrb:%d:", time.Now().UnixNano()) }

// Rebuild replays EMTM_LEDGER (the entries), EMTM_ENROLLMENT (the spans) and
// EMTM_MEDICAL (the Parts A/B summaries) into a shadow namespace of the
// service's own Redis and compares its totals with the live ledger's, to the
// cent. With replace, the rebuilt keys become the live ledger's (every key
// under LivePrefix); otherwise the shadow is removed. It dials nothing, and
// changes no key outside the ledger's: no database is flushed. Run it when
// the pipeline is quiet: entries booked during the rebuild show up as
// differences.
func (b *Booker) Rebuild(ctx context.Context, js jetstream.JetStream, replace bool) (res RebuildResult, err error) {
	shadow := keys{prefix: shadowPrefix()}
	defer func() {
		if !res.Replaced {
			if derr := redisx.DropNamespace(context.WithoutCancel(ctx), b.rdb, shadow.prefix); derr != nil && err == nil {
				err = derr
			}
		}
	}()
	tb := &Booker{rdb: b.rdb, k: shadow, policies: b.policies, clock: clock.Wall{Loc: time.UTC}, log: b.log}
	if _, ok := b.clock.(clock.Events); ok {
		tb.clock = clock.Events{RDB: b.rdb, Key: shadow.clock()}
		today, err := b.clock.Today(ctx)
		if err != nil {
			return res, err
		}
		if err := tb.clock.Saw(ctx, today); err != nil {
			return res, err
		}
	}
	target := b.rdb
	if res.LedgerMessages, err = bus.Replay(ctx, js, bus.StreamLedger, func(_ string, data []byte) error {
		var e ledgerv1.LedgerEntry
		if err := proto.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("ledger entry unreadable: %w", err)
		}
		_, err := shadow.applyEntry(ctx, target, &e)
		return err
	}); err != nil {
		return res, fmt.Errorf("replay %s: %w", bus.StreamLedger, err)
	}
	if res.EnrollmentMessages, err = bus.Replay(ctx, js, bus.StreamEnrollment, func(_ string, data []byte) error {
		var e enrollmentv1.Enrollment
		if err := proto.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("enrollment unreadable: %w", err)
		}
		return tb.OnEnrollment(ctx, &e)
	}); err != nil {
		return res, fmt.Errorf("replay %s: %w", bus.StreamEnrollment, err)
	}
	if res.MedicalMessages, err = bus.Replay(ctx, js, bus.StreamMedical, func(subject string, data []byte) error {
		if !strings.HasSuffix(subject, ".partsab") {
			return nil
		}
		var s medicalv1.PartsAbSummary
		if err := proto.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("a Parts A/B summary unreadable: %w", err)
		}
		return tb.OnPartsAB(ctx, &s)
	}); err != nil {
		return res, fmt.Errorf("replay %s: %w", bus.StreamMedical, err)
	}
	// The rebuilt store has booked what the live one had through the same
	// month, and has the same members' spans left to sweep.
	if swept, err := b.rdb.Get(ctx, b.k.swept()).Result(); err == nil {
		if err := target.Set(ctx, shadow.swept(), swept, 0).Err(); err != nil {
			return res, err
		}
	}
	if err := target.Del(ctx, shadow.dirty()).Err(); err != nil {
		return res, err
	}
	if err := target.SUnionStore(ctx, shadow.dirty(), b.k.dirty()).Err(); err != nil {
		return res, err
	}
	if res.Live, err = b.k.totalsOf(ctx, b.rdb); err != nil {
		return res, err
	}
	if res.Rebuilt, err = shadow.totalsOf(ctx, target); err != nil {
		return res, err
	}
	res.Differences = compare(res.Live, res.Rebuilt)
	if replace {
		if err := redisx.ReplaceNamespace(ctx, b.rdb, shadow.prefix, b.k.prefix); err != nil {
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
