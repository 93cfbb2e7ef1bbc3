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
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/ledger"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/performance"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/policy"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/statement"
)

// Store keeps the ledger's projection, the enrollment spans, the Parts A/B
// totals and the markers of the events handled.
type Store interface {
	// ApplyEntry adds an entry, the seq-th on EMTM_LEDGER, to the projection
	// unless it is there (false).
	ApplyEntry(ctx context.Context, e *ledgerv1.LedgerEntry, seq uint64) (bool, error)
	// EntryBooked and Entry find an entry under its owner (ledger.Owner).
	EntryBooked(ctx context.Context, owner, id string) (bool, error)
	// Entry reads one entry (nil when unknown); Entries several, in order.
	Entry(ctx context.Context, owner, id string) (*ledgerv1.LedgerEntry, error)
	Entries(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error)
	// FindEntries reads the entries of ids that exist (the others are left out).
	FindEntries(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error)
	// EntryIDs lists every entry in booking order; MonthEntryIDs a plan's of a service month.
	EntryIDs(ctx context.Context) ([]string, error)
	MonthEntryIDs(ctx context.Context, plan string, month civil.Date) ([]string, error)
	Totals(ctx context.Context) (Totals, error)

	// Handled reports whether an event's effect is stored; MarkHandled records it.
	Handled(ctx context.Context, eventID string) (bool, error)
	MarkHandled(ctx context.Context, eventID string) error

	// RecordSpan keeps the latest version of an enrollment span and leaves the member to the next sweep.
	RecordSpan(ctx context.Context, member string, s membermonths.Span) error
	// Spans are a member's spans, ordered by start.
	Spans(ctx context.Context, member string) ([]membermonths.Span, error)
	// SpansOf reads many members' spans at once, in their order.
	SpansOf(ctx context.Context, members []string) ([][]membermonths.Span, error)
	// Members lists the members with spans, or only those changed since the last sweep.
	Members(ctx context.Context, changedOnly bool) ([]string, error)
	// Swept is the month (YYYY-MM) the last sweep booked through ("" before the first).
	Swept(ctx context.Context) (string, error)
	Reconciled(ctx context.Context, member string) error
	SweptThrough(ctx context.Context, month string) error
	// MemberMonths are a member's booked member months: plan|YYYY-MM -> entry id, and g:plan|YYYY-MM -> generation.
	MemberMonths(ctx context.Context, member string) (map[string]string, error)

	// AddPartsAB adds a summary's cost to its plan-year, once per event.
	// An unpriced summary (its source had no amount) is counted apart.
	AddPartsAB(ctx context.Context, eventID, plan string, year int, cents int64, priced bool) error
	PartsAB(ctx context.Context, plan string, year int) (cents, summaries, unpriced int64, err error)
	MemberMonthCount(ctx context.Context, plan string, year int) (int64, error)
	// PerformanceEntry is the plan-year's booked performance entry ("" for none) and how many were booked.
	PerformanceEntry(ctx context.Context, plan string, year int) (id string, generation int, err error)

	// EventClock is the event clock kept beside the ledger (a rebuild's own).
	EventClock() clock.Events
	// Shadow is an empty store beside this one, for a rebuild; CopySweepStateTo
	// gives it this store's sweep state; ReplaceFrom makes it the live one; Drop removes it.
	Shadow() Store
	CopySweepStateTo(ctx context.Context, shadow Store) error
	ReplaceFrom(ctx context.Context, shadow Store) error
	Drop(ctx context.Context) error
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

// Booker runs the use case.
type Booker struct {
	store    Store
	pub      bus.Events // nil when rebuilding: entries are already on the stream
	policies *policy.Policies
	clock    clock.Clock
	log      *slog.Logger
}

// New returns a Booker.
func New(store Store, pub bus.Events, policies *policy.Policies, clk clock.Clock, log *slog.Logger) *Booker {
	return &Booker{store: store, pub: pub, policies: policies, clock: clk, log: log}
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
	acks, err := b.pub.Publish(ctx, outs...)
	if err != nil {
		return nil, err
	}
	if len(acks) != len(msgs) {
		return nil, fmt.Errorf("ledger: %d entries published, %d acknowledged", len(msgs), len(acks))
	}
	for i, m := range msgs {
		// The stream's sequence (a duplicate's is the original's) orders the projection.
		if _, err := b.store.ApplyEntry(ctx, m, acks[i].Sequence); err != nil {
			return nil, err
		}
	}
	return msgs, nil
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
	if done, err := b.store.Handled(ctx, src); err != nil || done {
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
	return b.store.MarkHandled(ctx, src)
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
	if done, err := b.store.EntryBooked(ctx, x.Owner(), x.ID); err != nil || done {
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
	return b.store.RecordSpan(ctx, e.MemberId, membermonths.Span{ID: e.EnrollmentId, Plan: planid.Of(e).String(),
		Start: start, End: civil.FromProto(e.EndDate), EventID: e.GetMeta().GetEventId()})
}

// OnPartsAB adds a Parts A/B summary to its plan-year's expenditure. A
// summary whose source carried no amount (AB2D) adds nothing: spending known
// from no claim is unknown, never $0.
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
	return b.store.AddPartsAB(ctx, src, plan, y, s.CostCents, !s.CostUnknown)
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
	last, err := b.store.Swept(ctx)
	if err != nil {
		return res, err
	}
	members, err := b.store.Members(ctx, last == ym(through))
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
		if err := b.store.Reconciled(ctx, m); err != nil {
			return res, err
		}
	}
	return res, b.store.SweptThrough(ctx, ym(through))
}

// reconcile makes a member's booked member months (through a month) agree with the spans.
func (b *Booker) reconcile(ctx context.Context, member string, through civil.Date) (booked, reversed int, err error) {
	ss, err := b.store.Spans(ctx, member)
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
	cur, err := b.store.MemberMonths(ctx, member)
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
		orig, err := b.store.Entry(ctx, member, id) // a member month's owner is its member
		if err != nil || orig == nil {
			return 0, 0, fmt.Errorf("member month %s: %v", id, err)
		}
		xs = append(xs, ledger.Reverse(fromProto(orig), lastEvent,
			fmt.Sprintf("enrollment no longer covers %s (retroactive change)", ym(fromProto(orig).Month))))
		reversed++
	}
	var fresh []ledger.Entry
	for _, x := range xs {
		if booked, err := b.store.EntryBooked(ctx, x.Owner(), x.ID); err != nil {
			return 0, 0, err
		} else if !booked {
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
	cents, n, unpriced, err := b.store.PartsAB(ctx, plan, year)
	if err != nil {
		return performance.Result{}, nil, err
	}
	mm, err := b.store.MemberMonthCount(ctx, plan, year)
	if err != nil {
		return performance.Result{}, nil, err
	}
	r := performance.Calculate(performance.Inputs{Plan: plan, Year: year, ABCents: cents, ABSummaries: n, ABUnpriced: unpriced, MemberMonths: mm, Config: p.Performance})
	id, _, err := b.store.PerformanceEntry(ctx, plan, year)
	if err != nil {
		return r, nil, err
	}
	var booked *ledgerv1.LedgerEntry
	if id != "" {
		if booked, err = b.store.Entry(ctx, ledger.PerformanceSource(plan, year), id); err != nil {
			return r, nil, err
		}
	}
	return r, booked, nil
}

// FeeSchedule lists the rules a plan pays pharmacies by, latest first.
func (b *Booker) FeeSchedule(contract, pbp string) ([]feeschedule.Rule, error) {
	p, ok := b.plan(contract, pbp)
	if !ok {
		return nil, ErrNoPolicy{Plan: planid.Key(contract, pbp)}
	}
	return p.Fees.Rules(), nil
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
		xs = append(xs, ledger.Reverse(fromProto(booked), ledger.PerformanceSource(plan, year),
			fmt.Sprintf("performance payment of %d recalculated: %s", year, performance.Dollars(r.PaymentCents))))
	}
	if r.PaymentCents > 0 {
		_, gen, err := b.store.PerformanceEntry(ctx, plan, year)
		if err != nil {
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
// member's spans, 500 members a round trip: a statement's note.
func (b *Booker) unpaidMemberMonths(ctx context.Context, plan, rule string, first civil.Date) (int64, error) {
	members, err := b.store.Members(ctx, false)
	if err != nil {
		return 0, err
	}
	var n int64
	for start := 0; start < len(members); start += 500 {
		all, err := b.store.SpansOf(ctx, members[start:min(start+500, len(members))])
		if err != nil {
			return 0, err
		}
		for _, ss := range all {
			for _, mm := range membermonths.Of(ss, first, func(string) string { return rule }) {
				if mm.Plan == plan && mm.Month == first {
					n++
				}
			}
		}
	}
	return n, nil
}

// Totals reads the projection's counters.
func (b *Booker) Totals(ctx context.Context) (Totals, error) { return b.store.Totals(ctx) }

// Entries lists booked entries in booking order, optionally for one contract and kind.
func (b *Booker) Entries(ctx context.Context, contract string, kind ledgerv1.EntryKind, limit int) ([]*ledgerv1.LedgerEntry, error) {
	ids, err := b.store.EntryIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []*ledgerv1.LedgerEntry
	for start := 0; start < len(ids) && len(out) < limit; start += 500 {
		es, err := b.store.Entries(ctx, ids[start:min(start+500, len(ids))])
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

// EntriesByID reads the entries of ids that exist, in the order asked.
func (b *Booker) EntriesByID(ctx context.Context, ids []string) ([]*ledgerv1.LedgerEntry, error) {
	return b.store.FindEntries(ctx, ids)
}

// MonthEntries lists a plan's entries of a service month, in booking order.
func (b *Booker) MonthEntries(ctx context.Context, contract, pbp string, month civil.Date) ([]*ledgerv1.LedgerEntry, error) {
	ids, err := b.store.MonthEntryIDs(ctx, planid.Key(contract, pbp), month)
	if err != nil {
		return nil, err
	}
	return b.store.Entries(ctx, ids)
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
