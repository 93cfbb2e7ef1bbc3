// Package booking books the ledger exactly once. Each entry has a
// deterministic id; it is published to EMTM_LEDGER (the record, synced to disk
// and deduplicated by entry id), then applied to the Redis projection under
// its own marker. A redelivered or replayed event makes the same entries and
// changes nothing. Encounters and accepted outreach book fees as they arrive;
// member months are booked by a sweep from the enrollment spans up to the
// payment clock's month, and reversed when a retroactive change takes them
// away; the performance-based payment is booked when an operator settles a year.
package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ledger"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/performance"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/statement"
)

// Booker runs the use case.
type Booker struct {
	rdb      *redis.Client
	k        keys
	pub      bus.Events // nil when rebuilding: entries are already on the stream
	policies *policy.Policies
	clock    clock.Clock
	log      *slog.Logger
}

// New returns a Booker.
func New(rdb *redis.Client, pub bus.Events, policies *policy.Policies, clk clock.Clock, log *slog.Logger) *Booker {
	return &Booker{rdb: rdb, k: keys{prefix: LivePrefix}, pub: pub, policies: policies, clock: clk, log: log}
}

// book publishes entries, then applies each to the projection.
func (b *Booker) book(ctx context.Context, xs []ledger.Entry) ([]*ledgerv1.LedgerEntry, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	msgs := make([]*ledgerv1.LedgerEntry, 0, len(xs))
	outs := make([]bus.Out, 0, len(xs))
	for _, x := range xs {
		msg := toProto(x)
		msg.Meta = b.pub.Meta(ctx, x.ID, x.SourceEvent)
		msg.BookedOn = civil.Today(time.UTC).Proto()
		msgs = append(msgs, msg)
		outs = append(outs, bus.Out{Subject: bus.LedgerSubject(x.ContractID), MsgID: x.ID, Msg: msg})
	}
	if _, err := b.pub.Publish(ctx, outs...); err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if _, err := b.k.applyEntry(ctx, b.rdb, m); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

func (b *Booker) done(ctx context.Context, src string) (bool, error) {
	n, err := b.rdb.Exists(ctx, b.k.done(src)).Result()
	return n == 1, err
}

func (b *Booker) plan(contract, pbp string) (policy.Plan, bool) {
	return b.policies.For(contract, pbp)
}

// OnEncounter books the fees of an MTM encounter, and suspense for services
// without a fee rule.
func (b *Booker) OnEncounter(ctx context.Context, e *encountersv1.MtmEncounter) error {
	src := e.GetMeta().GetEventId()
	if src == "" {
		return bus.Permanent(fmt.Errorf("encounter without an event id"))
	}
	if err := b.clock.Saw(ctx, civil.FromProto(e.ServiceDate)); err != nil {
		return err
	}
	if done, err := b.done(ctx, src); err != nil || done {
		return err
	}
	p, ok := b.plan(e.ContractId, e.PbpId)
	xs := ledger.ForEncounter(ledger.Encounter{
		EventID: src, EncounterID: e.EncounterId, ContractID: e.ContractId, PbpID: e.PbpId, PharmacyNPI: e.PharmacyNpi,
		ServiceDate: civil.FromProto(e.ServiceDate), ServiceCodes: e.ServiceCodes, TaskKind: taskKind(e),
		Completed: e.Outcome == encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
	}, p, ok, b.policies.Name)
	for _, x := range xs {
		if x.Kind == ledger.Suspense {
			b.log.Warn("encounter service booked to suspense", "plan", x.Plan(), "service", x.Service, "reason", x.Memo, "entry", x.ID)
		}
	}
	if _, err := b.book(ctx, xs); err != nil {
		return err
	}
	return b.rdb.Set(ctx, b.k.done(src), "1", 0).Err()
}

// OnOutreach books the PRESCRIBER_ACCEPTED fee of an accepted outreach item.
func (b *Booker) OnOutreach(ctx context.Context, it *outreachv1.OutreachItem) error {
	if it.Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED {
		return nil
	}
	on := civil.FromProto(it.RespondedOn)
	if err := b.clock.Saw(ctx, on); err != nil {
		return err
	}
	p, ok := b.plan(it.ContractId, it.PbpId)
	if !ok {
		return nil
	}
	x, ok := ledger.ForAccepted(ledger.Accepted{EventID: it.GetMeta().GetEventId(), ItemID: it.ItemId, ContractID: it.ContractId, PbpID: it.PbpId,
		PharmacyNPI: it.RespondedPharmacyNpi, RespondedOn: on}, p)
	if !ok {
		return nil
	}
	if done, err := b.rdb.Exists(ctx, b.k.entryDone(x.ID)).Result(); err != nil || done == 1 {
		return err
	}
	_, err := b.book(ctx, []ledger.Entry{x})
	return err
}

// OnEnrollment records an enrollment span (the latest version of each span
// wins); the next sweep books or reverses the member months it changes.
func (b *Booker) OnEnrollment(ctx context.Context, e *enrollmentv1.Enrollment) error {
	start := civil.FromProto(e.StartDate)
	if !start.Valid() || e.MemberId == "" || e.EnrollmentId == "" {
		return bus.Permanent(fmt.Errorf("enrollment without a member, an id or a start date"))
	}
	v := spanValue(planid.Of(e).String(), start, civil.FromProto(e.EndDate), e.GetMeta().GetEventId())
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, b.k.span(e.MemberId), e.EnrollmentId, v)
		p.SAdd(ctx, b.k.members(), e.MemberId)
		p.SAdd(ctx, b.k.dirty(), e.MemberId)
		return nil
	})
	return err
}

// OnPartsAB adds a Parts A/B summary to its plan-year's expenditure.
func (b *Booker) OnPartsAB(ctx context.Context, s *medicalv1.PartsAbSummary) error {
	src := s.GetMeta().GetEventId()
	if src == "" {
		return bus.Permanent(errors.New("a Parts A/B summary without an event id"))
	}
	y, m := int(s.GetServiceMonth().GetYear()), monthOf(s.GetServiceMonth().GetMonth())
	if err := b.clock.Saw(ctx, civil.Date{Year: y, Month: m, Day: 1}); err != nil {
		return err
	}
	plan := planid.Of(s).String()
	if s.ContractId == "" {
		plan = "unattributed"
	}
	_, err := redisx.Apply(ctx, b.rdb, b.k.done(src), 0,
		redisx.HIncrBy(b.k.ab(plan, y), "cents", s.CostCents), redisx.HIncrBy(b.k.ab(plan, y), "summaries", 1),
		redisx.SAdd(b.k.abYears(plan), strconv.Itoa(y)), redisx.SAdd(b.k.plans(), plan))
	return err
}

// SweepResult says what a sweep did.
type SweepResult struct {
	Today            civil.Date
	Booked, Reversed int
}

// Sweep books the member months of every member whose spans changed (of
// every member when a new month began) through the payment clock's month.
func (b *Booker) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	today, err := b.clock.Today(ctx)
	if err != nil || today.IsZero() {
		return res, err
	}
	res.Today = today
	through := civil.Date{Year: today.Year, Month: today.Month, Day: 1}
	last, err := b.rdb.Get(ctx, b.k.swept()).Result()
	if err != nil && err != redis.Nil {
		return res, err
	}
	set := b.k.dirty()
	if last != ym(through) {
		set = b.k.members()
	}
	members, err := b.rdb.SMembers(ctx, set).Result()
	if err != nil {
		return res, err
	}
	sort.Strings(members)
	for _, m := range members {
		booked, reversed, err := b.reconcile(ctx, m, through)
		if err != nil {
			return res, err
		}
		res.Booked += booked
		res.Reversed += reversed
		if err := b.rdb.SRem(ctx, b.k.dirty(), m).Err(); err != nil {
			return res, err
		}
	}
	return res, b.rdb.Set(ctx, b.k.swept(), ym(through), 0).Err()
}

// reconcile makes a member's booked member months (through a month) agree with the spans.
func (b *Booker) reconcile(ctx context.Context, member string, through civil.Date) (booked, reversed int, err error) {
	ss, err := b.k.spans(ctx, b.rdb, member)
	if err != nil {
		return 0, 0, err
	}
	rule := func(plan string) string {
		c, pbp := planid.Split(plan)
		p, ok := b.plan(c, pbp)
		if !ok {
			return ""
		}
		return p.MemberMonth
	}
	want := membermonths.Of(ss, through, rule)
	cur, err := b.rdb.HGetAll(ctx, b.k.mm(member)).Result()
	if err != nil {
		return 0, 0, err
	}
	lastEvent := ""
	for _, s := range ss {
		if s.EventID > lastEvent {
			lastEvent = s.EventID
		}
	}
	var xs []ledger.Entry
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mm := want[k]
		if cur[k] != "" {
			continue
		}
		c, pbp := planid.Split(mm.Plan)
		p, _ := b.plan(c, pbp)
		rate, ok := p.PMPM(mm.Month)
		if !ok {
			continue // no prospective payment before the plan's first rate
		}
		gen, _ := strconv.Atoi(cur["g:"+k])
		xs = append(xs, ledger.ForMemberMonth(c, pbp, member, mm.Month, gen+1, rate, mm.Source))
		booked++
	}
	var stale []string
	for k, id := range cur {
		if strings.HasPrefix(k, "g:") || id == "" {
			continue
		}
		if _, ok := want[k]; ok {
			continue
		}
		_, month, _ := strings.Cut(k, "|")
		if month > ym(through) {
			continue // a later month than the clock: not this sweep's to judge
		}
		stale = append(stale, id)
	}
	sort.Strings(stale)
	for _, id := range stale {
		orig, err := b.k.entry(ctx, b.rdb, id)
		if err != nil || orig == nil {
			return 0, 0, fmt.Errorf("member month %s: %v", id, err)
		}
		xs = append(xs, ledger.Reverse(fromProto(orig), lastEvent,
			fmt.Sprintf("enrollment no longer covers %s (retroactive change)", ym(fromProto(orig).Month))))
		reversed++
	}
	var fresh []ledger.Entry
	for _, x := range xs {
		if n, err := b.rdb.Exists(ctx, b.k.entryDone(x.ID)).Result(); err != nil {
			return 0, 0, err
		} else if n == 0 {
			fresh = append(fresh, x)
		}
	}
	_, err = b.book(ctx, fresh)
	return booked, reversed, err
}

// Performance computes a plan-year's performance-based payment from the
// Parts A/B summaries and the member months booked.
func (b *Booker) Performance(ctx context.Context, contract, pbp string, year int) (performance.Result, *ledgerv1.LedgerEntry, error) {
	p, ok := b.plan(contract, pbp)
	if !ok {
		return performance.Result{}, nil, ErrNoPolicy{Plan: planid.Key(contract, pbp)}
	}
	plan := planid.Key(contract, pbp)
	ab, err := b.rdb.HGetAll(ctx, b.k.ab(plan, year)).Result()
	if err != nil {
		return performance.Result{}, nil, err
	}
	mm, err := b.rdb.HGet(ctx, b.k.mmCount(plan), strconv.Itoa(year)).Int64()
	if err != nil && err != redis.Nil {
		return performance.Result{}, nil, err
	}
	cents, _ := strconv.ParseInt(ab["cents"], 10, 64)
	n, _ := strconv.ParseInt(ab["summaries"], 10, 64)
	r := performance.Calculate(performance.Inputs{Plan: plan, Year: year, ABCents: cents, ABSummaries: n, MemberMonths: mm, Config: p.Performance})
	id, err := b.rdb.HGet(ctx, b.k.perf(plan), strconv.Itoa(year)).Result()
	if err != nil && err != redis.Nil {
		return r, nil, err
	}
	var booked *ledgerv1.LedgerEntry
	if id != "" {
		if booked, err = b.k.entry(ctx, b.rdb, id); err != nil {
			return r, nil, err
		}
	}
	return r, booked, nil
}

// ErrNoPolicy is a plan the payment policy does not know.
type ErrNoPolicy struct{ Plan string }

func (e ErrNoPolicy) Error() string { return "no payment policy for plan " + e.Plan }

// SettlePerformance books a plan-year's performance payment as computed now:
// nothing when the ledger already holds it; a reversing entry and a new entry
// when a recalculation changed it; a reversing entry when it no longer qualifies.
func (b *Booker) SettlePerformance(ctx context.Context, contract, pbp string, year int) (performance.Result, []*ledgerv1.LedgerEntry, error) {
	r, booked, err := b.Performance(ctx, contract, pbp, year)
	if err != nil {
		return r, nil, err
	}
	plan := planid.Key(contract, pbp)
	if booked != nil && booked.AmountCents == r.PaymentCents {
		return r, nil, nil
	}
	var xs []ledger.Entry
	if booked != nil {
		xs = append(xs, ledger.Reverse(fromProto(booked), fmt.Sprintf("performance/%s/%d", plan, year),
			fmt.Sprintf("performance payment of %d recalculated: %s", year, performance.Dollars(r.PaymentCents))))
	}
	if r.PaymentCents > 0 {
		gen, err := b.rdb.HGet(ctx, b.k.perf(plan), strconv.Itoa(year)+":g").Int()
		if err != nil && err != redis.Nil {
			return r, nil, err
		}
		rule := fmt.Sprintf("performance:%dbp:%dc-pmpm:lag%d", r.Config.ThresholdBP, r.Config.PMPMCents, r.Config.LagYears)
		xs = append(xs, ledger.ForPerformance(contract, pbp, year, r.PayableYear, gen+1, r.PaymentCents, rule,
			fmt.Sprintf("performance year %d: %s per member-year, %s below the benchmark; %d member months", year,
				performance.Dollars(r.PerMemberYearCents), bpText(r.ReductionBP), r.MemberMonths)))
	}
	msgs, err := b.book(ctx, xs)
	return r, msgs, err
}

func bpText(n int64) string { return fmt.Sprintf("%d.%02d %%", n/100, n%100) }

// Statement is a plan's monthly statement, with a note when the month has
// no prospective payment: why, and how many enrolled member months that
// leaves unpaid.
func (b *Booker) Statement(ctx context.Context, contract, pbp string, month *typesv1.YearMonth) (*ledgerv1.Statement, error) {
	first := civil.Date{Year: int(month.GetYear()), Month: time.Month(month.GetMonth()), Day: 1}
	es, err := b.MonthEntries(ctx, contract, pbp, first)
	if err != nil {
		return nil, err
	}
	st, err := statement.Build(contract, pbp, month, es)
	if err != nil {
		return nil, err
	}
	p, ok := b.plan(contract, pbp)
	if why := p.NoPMPM(first); ok && why != "" {
		n, err := b.unpaidMemberMonths(ctx, planid.Key(contract, pbp), p.MemberMonth, first)
		if err != nil {
			return nil, err
		}
		st.Notes = append(st.Notes, fmt.Sprintf("%s; %d member month(s) enrolled that month are not paid", why, n))
	}
	return st, nil
}

// unpaidMemberMonths counts the member months of a plan in a month that
// enrollment makes under the plan's member-month rule. It reads every
// member's spans: a statement's note, not a hot path.
func (b *Booker) unpaidMemberMonths(ctx context.Context, plan, rule string, first civil.Date) (int64, error) {
	members, err := b.rdb.SMembers(ctx, b.k.members()).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range members {
		ss, err := b.k.spans(ctx, b.rdb, m)
		if err != nil {
			return 0, err
		}
		for _, mm := range membermonths.Of(ss, first, func(string) string { return rule }) {
			if mm.Plan == plan && mm.Month == first {
				n++
			}
		}
	}
	return n, nil
}

// Totals reads the projection's counters.
func (b *Booker) Totals(ctx context.Context) (Totals, error) { return b.k.totalsOf(ctx, b.rdb) }

// Entries lists booked entries in booking order, optionally for one contract and kind.
func (b *Booker) Entries(ctx context.Context, contract string, kind ledgerv1.EntryKind, limit int) ([]*ledgerv1.LedgerEntry, error) {
	ids, err := b.rdb.LRange(ctx, b.k.entries(), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	var out []*ledgerv1.LedgerEntry
	for start := 0; start < len(ids) && len(out) < limit; start += 500 {
		es, err := b.k.entriesByID(ctx, b.rdb, ids[start:min(start+500, len(ids))])
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if (contract == "" || e.ContractId == contract) && (kind == 0 || e.Kind == kind) {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
	}
	return out, nil
}

// MonthEntries lists a plan's entries of a service month, in booking order.
func (b *Booker) MonthEntries(ctx context.Context, contract, pbp string, month civil.Date) ([]*ledgerv1.LedgerEntry, error) {
	ids, err := b.rdb.LRange(ctx, b.k.month(planid.Key(contract, pbp), month), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	return b.k.entriesByID(ctx, b.rdb, ids)
}

// taskKind is the kind of the task an encounter fulfils: its task_kind field
// (ingestion fills it); an encounter stored before the field existed names
// the kind only in its task id, read by the one grammar of task ids.
func taskKind(e *encountersv1.MtmEncounter) string {
	if e.GetTaskKind() != "" {
		return e.GetTaskKind()
	}
	return taskid.Kind(e.GetTaskId())
}
