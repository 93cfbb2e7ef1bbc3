// Package outreach tells prescribers about the drug therapy problems they can
// act on. Each problem found for a patient becomes an item per prescriber
// (never raised again while open or within the plan's repeat window); pending
// items are batched per prescriber into one communication per period, within
// a rate limit; answers arrive through the API or with an MTM encounter, and
// a sent item unanswered after the plan's deadline counts as no response.
// Every change is stored first and published through an outbox.
package outreach

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/letter"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/policy"
)

// ItemID is deterministic: one problem of one patient raised with one
// prescriber on one date.
func ItemID(npi, member, problemKey string, on civil.Date) string {
	return fmt.Sprintf("out/%s/%s/%s/%d", npi, member, problemKey, on.YMD())
}

// CommID is deterministic: the n-th communication of a plan to a prescriber in a period.
func CommID(plan, npi, period string, n int) string {
	return fmt.Sprintf("comm/%s/%s/%s/%d", plan, npi, period, n)
}

// ItemNPI is the prescriber an ItemID names ("" for another string).
func ItemNPI(id string) string { return segment(id, "out", 1) }

// CommNPI is the prescriber a CommID names ("" for another string).
func CommNPI(id string) string { return segment(id, "comm", 2) }

// segment is the i-th "/"-separated segment of id after its kind.
func segment(id, kind string, i int) string {
	parts := strings.SplitN(id, "/", i+2)
	if len(parts) < i+2 || parts[0] != kind {
		return ""
	}
	return parts[i]
}

// Outreach runs the use case.
type Outreach struct {
	store      Store
	pub        bus.Events
	policies   *policy.Policies
	clock      clock.Clock
	backfill   bool
	partitions int
	hasher     *pseudonym.Hasher
}

// New returns the use case. On the event clock (a replay) every period that
// ended gets its communications, dated at the period's start, as if the
// service had been running then; on the wall clock only the current period
// does, dated today.
func New(store Store, pub bus.Events, policies *policy.Policies, clk clock.Clock, partitions int, hasher *pseudonym.Hasher) *Outreach {
	_, backfill := clk.(clock.Events)
	return &Outreach{store: store, pub: pub, policies: policies, clock: clk, backfill: backfill, partitions: partitions, hasher: hasher}
}

// OnAssessment raises an item for each problem and each prescriber who can act on it.
func (o *Outreach) OnAssessment(ctx context.Context, a *riskv1.RiskAssessment) error {
	o.hasher.Tag(ctx, a.MemberId)
	on := civil.FromProto(a.AsOf)
	if !on.Valid() {
		return bus.Permanent(fmt.Errorf("assessment %s: as_of is not a date", a.AssessmentId))
	}
	if err := o.clock.Saw(ctx, on); err != nil {
		return err
	}
	pol := o.policies.For(a.ContractId, a.PbpId)
	until := on.AddDays(pol.RepeatWindowDays)
	for _, p := range a.Problems {
		for _, npi := range p.PrescriberNpis {
			id := ItemID(npi, a.MemberId, p.Key, on)
			item := &outreachv1.OutreachItem{
				ItemId: id, PrescriberNpi: npi, MemberId: a.MemberId, ProblemCode: p.Code, ProblemKey: p.Key,
				Description: p.Description, Recommendation: p.Recommendation, ClaimIds: p.ClaimIds, Source: p.Source,
				AssessmentId: a.AssessmentId, CreatedOn: a.AsOf, ContractId: a.ContractId, PbpId: a.PbpId,
				SuppressedUntil: until.Proto(),
			}
			item.Meta = o.pub.Meta(ctx, id+"@1", a.GetMeta().GetEventId())
			res, other, err := o.raise(ctx, item, planid.Key(a.ContractId, a.PbpId), until)
			if err != nil {
				return err
			}
			if res == NotRaised {
				continue
			}
			if err := o.publishItem(ctx, id, a.GetMeta().GetEventId()); err != nil {
				return err
			}
			if res == Created && other != "" {
				if err := o.publishItem(ctx, other, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// publishItem publishes an item's current state unless it is on the bus already.
func (o *Outreach) publishItem(ctx context.Context, id, causation string) error {
	done, err := o.store.Published(ctx, id)
	if err != nil || done {
		return err
	}
	it, err := o.store.Get(ctx, id)
	if err != nil || it == nil {
		return err
	}
	eventID := fmt.Sprintf("%s@%d", id, it.Version)
	it.Meta = o.pub.Meta(ctx, eventID, causation)
	if _, err := o.pub.Publish(ctx, bus.Out{Subject: bus.OutreachSubject(bus.Partition(it.MemberId, o.partitions)), MsgID: eventID, Msg: it}); err != nil {
		return err
	}
	return o.store.MarkItemPublished(ctx, id, it.Version)
}

func (o *Outreach) publishComm(ctx context.Context, id string) error {
	c, err := o.store.Comm(ctx, id)
	if err != nil || c == nil {
		return err
	}
	if _, err := o.pub.Publish(ctx, bus.Out{Subject: bus.CommunicationSubject(c.PrescriberNpi), MsgID: id, Msg: c}); err != nil {
		return err
	}
	return o.store.MarkCommPublished(ctx, id)
}

// Respond records a prescriber's answer (ACCEPTED or DECLINED) to an item;
// on zero means today on the outreach clock; pharmacy, when known, is the
// pharmacy whose pharmacist obtained the answer. The same answer twice is one answer.
func (o *Outreach) Respond(ctx context.Context, id, status string, on civil.Date, note, by, pharmacy string) (*outreachv1.OutreachItem, error) {
	if status != Accepted && status != Declined {
		return nil, NotAllowedError{Reason: "a response is ACCEPTED or DECLINED"}
	}
	if on.IsZero() {
		var err error
		if on, err = o.clock.Today(ctx); err != nil {
			return nil, err
		}
	}
	changed, err := o.respond(ctx, id, status, on, note, by, pharmacy)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := o.publishItem(ctx, id, by); err != nil {
			return nil, err
		}
	}
	return o.store.Get(ctx, id)
}

// OnEncounter records the prescriber responses a pharmacist learned during
// an MTM encounter, against the latest item for each problem. A response that
// names no item, or contradicts an answer already recorded, is counted as
// unmatched and does not stop the encounter.
func (o *Outreach) OnEncounter(ctx context.Context, e *encountersv1.MtmEncounter) error {
	on := civil.FromProto(e.ServiceDate)
	if err := o.clock.Saw(ctx, on); err != nil {
		return err
	}
	if len(e.PrescriberResponses) > 0 {
		o.hasher.Tag(ctx, e.MemberId, attribute.Int("emtm.prescriber_responses", len(e.PrescriberResponses)))
	}
	for _, r := range e.PrescriberResponses {
		key := e.EncounterId + "|" + r.PrescriberNpi + "|" + r.ProblemKey
		id, err := o.store.LastItem(ctx, r.PrescriberNpi, e.MemberId, r.ProblemKey)
		if err != nil {
			return err
		}
		if id == "" {
			if err := o.store.Unmatched(ctx, key+"|"+ErrNotFound.Error()); err != nil {
				return err
			}
			continue
		}
		status := Declined
		if r.Accepted {
			status = Accepted
		}
		_, err = o.Respond(ctx, id, status, on, r.Note, "encounter "+e.EncounterId, e.PharmacyNpi)
		var na NotAllowedError
		refusal := ""
		switch {
		case errors.Is(err, ErrNotFound):
			refusal = ErrNotFound.Error()
		case errors.As(err, &na):
			refusal = na.Reason
		}
		if refusal != "" {
			if err := o.store.Unmatched(ctx, key+"|"+refusal); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// SweepResult says what a sweep did.
type SweepResult struct {
	Today                      civil.Date
	Communications, NoResponse int
}

// maxPeriods bounds the periods one queue catches up on in one sweep (ten years of weeks).
const maxPeriods = 520

// Sweep builds the communications that are due, marks sent items past their
// deadline as no response, and publishes what a crash left unpublished.
func (o *Outreach) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	today, err := o.clock.Today(ctx)
	if err != nil {
		return res, err
	}
	res.Today = today
	if !today.IsZero() {
		queues, err := o.store.PendingQueues(ctx)
		if err != nil {
			return res, err
		}
		for _, q := range queues {
			n, err := o.letters(ctx, q[0], q[1], today)
			if err != nil {
				return res, err
			}
			res.Communications += n
		}
		for range 100 {
			ids, err := o.store.PastDeadline(ctx, today, 1000)
			if err != nil {
				return res, err
			}
			for _, id := range ids {
				ok, err := o.noResponse(ctx, id, today)
				if err != nil {
					return res, err
				}
				if ok {
					res.NoResponse++
				}
			}
			if len(ids) < 1000 {
				break
			}
		}
	}
	if err := o.store.RelayComms(ctx, 1000, o.publishComm); err != nil {
		return res, err
	}
	return res, o.store.RelayItems(ctx, 1000, func(ctx context.Context, id string) error { return o.publishItem(ctx, id, "sweep") })
}

// letters builds a queue's due communications (see New for which periods and dates).
func (o *Outreach) letters(ctx context.Context, plan, npi string, today civil.Date) (int, error) {
	contract, pbp := planid.Split(plan)
	pol := o.policies.For(contract, pbp)
	_, current := pol.PeriodOf(today)
	oldest, err := o.store.Oldest(ctx, plan, npi)
	if err != nil || oldest.IsZero() {
		return 0, err
	}
	sent := 0
	start := pol.NextPeriod(oldest)
	if !o.backfill && start.Before(current) {
		start = current
	}
	for range maxPeriods {
		if start.After(current) {
			break
		}
		period, _ := pol.PeriodOf(start)
		n, err := o.store.CommsInPeriod(ctx, plan, npi, period)
		if err != nil {
			return sent, err
		}
		on := start
		if !o.backfill {
			on = today
		}
		for tries := 0; n < pol.MaxPerPeriod && tries < 10; tries++ {
			ids, err := o.store.PendingBefore(ctx, plan, npi, start, int64(pol.MaxItems))
			if err != nil {
				return sent, err
			}
			if len(ids) == 0 {
				break
			}
			ok, err := o.send(ctx, pol, plan, npi, period, n+1, on, ids)
			if errors.Is(err, ErrConflict) {
				continue // an item was answered meanwhile: read again
			}
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
			n++
		}
		if oldest, err = o.store.Oldest(ctx, plan, npi); err != nil || oldest.IsZero() {
			return sent, err
		}
		start = pol.NextPeriod(start)
		if next := pol.NextPeriod(oldest); next.After(start) {
			start = next
		}
	}
	return sent, nil
}

// send builds, stores and publishes one communication; it reports false when
// it existed already (another replica built it).
func (o *Outreach) send(ctx context.Context, pol policy.Plan, plan, npi, period string, n int, on civil.Date, ids []string) (bool, error) {
	id := CommID(plan, npi, period, n)
	deadline := on.AddDays(pol.NoResponseAfterDays)
	c := &outreachv1.Communication{CommunicationId: id, PrescriberNpi: npi, Period: period, CreatedOn: on.Proto()}
	var states []Item
	for _, itemID := range ids {
		it, err := o.store.Get(ctx, itemID)
		if err != nil {
			return false, err
		}
		if it == nil || it.Status != outreachv1.OutreachStatus_OUTREACH_STATUS_PENDING {
			return false, ErrConflict // only pending items are sent
		}
		states = append(states, Item{ID: it.ItemId, NPI: it.PrescriberNpi, Code: it.ProblemCode, Plan: plan, Status: Pending,
			Version: strconv.Itoa(int(it.Version))})
		it.Meta = nil
		it.Status = outreachv1.OutreachStatus_OUTREACH_STATUS_SENT
		it.CommunicationId, it.SentOn, it.Version = id, on.Proto(), it.Version+1
		c.Items = append(c.Items, it)
	}
	var err error
	if c.Text, c.Html, err = letter.Render(letter.Header{Letterhead: pol.Letterhead, ReplyTo: pol.ReplyTo, RespondBy: deadline}, c); err != nil {
		return false, fmt.Errorf("render %s: %w", id, err)
	}
	c.Meta = o.pub.Meta(ctx, id, "")
	ok, err := o.store.Send(ctx, c, plan, deadline, states)
	if err != nil || !ok {
		return false, err
	}
	trace.SpanFromContext(ctx).AddEvent("communication", trace.WithAttributes(
		attribute.String("emtm.prescriber_npi", npi), attribute.String("emtm.period", period), attribute.Int("emtm.items", len(ids))))
	if err := o.publishComm(ctx, id); err != nil {
		return true, err
	}
	for _, itemID := range ids {
		if err := o.publishItem(ctx, itemID, id); err != nil {
			return true, err
		}
	}
	return true, nil
}

// maxConflicts bounds how often a change is decided again because its item
// changed between the read and the write (another event, an answer, a sweep).
const maxConflicts = 20

// raise raises an item unless it exists, deciding the repeat window and
// supersession on the standing item (DecideRaise), again when it changed meanwhile.
func (o *Outreach) raise(ctx context.Context, item *outreachv1.OutreachItem, plan string, until civil.Date) (CreateResult, string, error) {
	for attempt := 1; ; attempt++ {
		if _, found, err := o.store.Item(ctx, item.ItemId); err != nil || found {
			return Exists, "", err
		}
		standing, err := o.store.Standing(ctx, item.PrescriberNpi, item.MemberId, item.ProblemKey)
		if err != nil {
			return 0, "", err
		}
		res, other, err := o.store.Create(ctx, item, plan, until, DecideRaise(standing, civil.FromProto(item.CreatedOn)), standing)
		if !errors.Is(err, ErrConflict) || attempt == maxConflicts {
			return res, other, err
		}
	}
}

// respond records an answer as Item.Respond decides; false when the same
// answer was recorded before.
func (o *Outreach) respond(ctx context.Context, id, to string, on civil.Date, note, by, pharmacy string) (bool, error) {
	for attempt := 1; ; attempt++ {
		it, found, err := o.store.Item(ctx, id)
		if err != nil {
			return false, err
		}
		if !found {
			return false, ErrNotFound
		}
		a, same, err := it.Respond(to, on, note, by, pharmacy)
		if err != nil || same {
			return false, err
		}
		if err = o.store.Respond(ctx, a); !errors.Is(err, ErrConflict) || attempt == maxConflicts {
			return err == nil, err
		}
	}
}

// noResponse marks a sent item past its deadline (Item.NoResponseBy); an item
// no longer sent leaves the index of sent items. It reports whether it marked one.
func (o *Outreach) noResponse(ctx context.Context, id string, today civil.Date) (bool, error) {
	it, found, err := o.store.Item(ctx, id)
	if err != nil || !found {
		return false, err
	}
	if it.Status != Sent {
		return false, o.store.Unsent(ctx, it)
	}
	if !it.NoResponseBy(today) {
		return false, nil
	}
	err = o.store.MarkNoResponse(ctx, it)
	if errors.Is(err, ErrConflict) {
		return false, nil // answered meanwhile: the next sweep reads it again
	}
	return err == nil, err
}

// Item reads one item (nil when unknown).
func (o *Outreach) Item(ctx context.Context, id string) (*outreachv1.OutreachItem, error) {
	return o.store.Get(ctx, id)
}

// ByPrescriber lists a prescriber's items, newest first.
func (o *Outreach) ByPrescriber(ctx context.Context, npi string, limit int) ([]*outreachv1.OutreachItem, error) {
	return o.store.ItemsOf(ctx, npi, limit)
}

// Communications lists a prescriber's communications, newest first.
func (o *Outreach) Communications(ctx context.Context, npi string, limit int) ([]*outreachv1.Communication, error) {
	ids, err := o.store.Comms(ctx, npi, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*outreachv1.Communication, 0, len(ids))
	for _, id := range ids {
		c, err := o.store.Comm(ctx, id)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Counts reads the counters.
func (o *Outreach) Counts(ctx context.Context, plan string) (*Counts, error) {
	return o.store.Counts(ctx, plan)
}
