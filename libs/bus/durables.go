package bus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Durable is one durable consumer a service owns, declared once below: the
// service's grant (access.go) lists it, the service subscribes its typed
// handlers to it (Subscribe), and a rebuild replays it (Subscription.Replay).
type Durable struct {
	Name string
	// Stream is the stream of its topics.
	Stream string
	// Filter is the subject filter; "{p}" in it stands for the partition token.
	Filter string
	// Partitioned durables exist once per partition, as Name-p<n>.
	Partitioned bool
	// Topics are the events the filter lets through; a subscription must
	// handle exactly these.
	Topics []TopicSpec
	// KeyedByPayload: the service names the ordering key of each message
	// (Subscription.Key) from its payload; otherwise the Emtm-Order-Key header
	// the Publisher sets (the beneficiary) keeps each beneficiary's events in order.
	KeyedByPayload bool
	// DoubleAck waits for the server to confirm each acknowledgement (money paths).
	DoubleAck bool
}

// durable declares a durable on its topics' stream.
func durable(name, filter string, partitioned bool, topics ...TopicSpec) Durable {
	d := Durable{Name: name, Stream: topics[0].Stream, Filter: filter, Partitioned: partitioned, Topics: topics}
	for _, t := range topics {
		if t.Stream != d.Stream {
			panic(fmt.Sprintf("bus: durable %s mixes streams %s and %s", name, d.Stream, t.Stream))
		}
	}
	return d
}

// The durables, by the service that owns them.
var (
	// A raw subject outside the grammar (possible only without NATS
	// authorization) is let through and dead-lettered: no handler knows it.
	IngestionPharmacy = withPayloadKey(durable("ingestion-pharmacy", "emtm.raw.pharmacy.>", false, RawPharmacy.TopicSpec))
	IngestionFeed     = withPayloadKey(durable("ingestion-feed", "emtm.raw.feed.>", false, RawFeed.TopicSpec))

	RiskScoringClaims     = durable("risk-scoring-claims", "emtm.claims.{p}.>", true, ClaimPaid.TopicSpec, ClaimReversed.TopicSpec)
	RiskScoringMedical    = durable("risk-scoring-medical", "emtm.medical.{p}.>", true, PartsAB.TopicSpec, Condition.TopicSpec)
	RiskScoringEnrollment = durable("risk-scoring-enrollment", Enrollment.Pattern, true, Enrollment.TopicSpec)
	RiskScoringEncounters = durable("risk-scoring-encounters", Encounter.Pattern, true, Encounter.TopicSpec)

	SchedulingAssessments = durable("scheduling-assessments", Assessment.Pattern, true, Assessment.TopicSpec)
	SchedulingMedical     = durable("scheduling-medical", PartsAB.Pattern, true, PartsAB.TopicSpec)
	SchedulingEncounters  = durable("scheduling-encounters", Encounter.Pattern, true, Encounter.TopicSpec)
	SchedulingEnrollment  = durable("scheduling-enrollment", Enrollment.Pattern, true, Enrollment.TopicSpec)

	OutreachAssessments = durable("outreach-assessments", Assessment.Pattern, true, Assessment.TopicSpec)
	OutreachEncounters  = durable("outreach-encounters", Encounter.Pattern, true, Encounter.TopicSpec)

	PaymentEncounters = withDoubleAck(durable("payment-encounters", Encounter.Pattern, true, Encounter.TopicSpec))
	PaymentEnrollment = withDoubleAck(durable("payment-enrollment", Enrollment.Pattern, true, Enrollment.TopicSpec))
	PaymentMedical    = withDoubleAck(durable("payment-medical", PartsAB.Pattern, true, PartsAB.TopicSpec))
	PaymentOutreach   = withDoubleAck(durable("payment-outreach", OutreachItem.Pattern, true, OutreachItem.TopicSpec))
)

func withPayloadKey(d Durable) Durable { d.KeyedByPayload = true; return d }
func withDoubleAck(d Durable) Durable  { d.DoubleAck = true; return d }

// Names lists the durable's consumer names for partitions.
func (d Durable) Names(partitions int) []string {
	if !d.Partitioned {
		return []string{d.Name}
	}
	out := make([]string, 0, partitions)
	for _, p := range PartitionTokens(partitions) {
		out = append(out, d.Name+"-"+p)
	}
	return out
}

// Lets reports whether the durable's filter lets subject through, in any partition.
func (d Durable) Lets(subject string) bool {
	_, ok := match(d.Filter, subject, false)
	return ok
}

// Route is a typed handler bound to one topic.
type Route struct {
	Topic  TopicSpec
	handle func(ctx context.Context, m *Msg) error
}

// On binds fn to the events of topic t: each delivered message is decoded
// once, as T; one that cannot be decoded is dead-lettered (Permanent).
func On[T any](t Topic[T], fn func(ctx context.Context, v T) error) Route {
	return OnMsg(t, func(ctx context.Context, v T, _ *Msg) error { return fn(ctx, v) })
}

// OnMsg is On for a handler that also reads the delivered message (its
// stream sequence, say).
func OnMsg[T any](t Topic[T], fn func(ctx context.Context, v T, m *Msg) error) Route {
	return Route{Topic: t.TopicSpec, handle: func(ctx context.Context, m *Msg) error {
		v, err := read(t, m)
		if err != nil {
			return err
		}
		return fn(ctx, v, m)
	}}
}

// read decodes m as t; one that cannot be decoded never will be (Permanent).
func read[T any](t Topic[T], m *Msg) (T, error) {
	v, err := t.Decode(m)
	if err != nil {
		return v, Permanent(fmt.Errorf("decode %s: %w", t.Name, err))
	}
	return v, nil
}

// Routes dispatches a message to the route whose topic its subject is.
type Routes []Route

// Handle implements Handler: a subject no route knows is dead-lettered.
func (rs Routes) Handle(ctx context.Context, m *Msg) error {
	for _, r := range rs {
		if r.Topic.Matches(m.Subject) {
			return r.handle(ctx, m)
		}
	}
	return Permanent(fmt.Errorf("no handler for subject %s", m.Subject))
}

// Subscription is a durable with the handlers of its topics.
type Subscription struct {
	Durable Durable
	Routes  Routes
	// Key names a message's ordering key when the durable is KeyedByPayload.
	Key func(subject string, hdr nats.Header, data []byte) string
	// Batch, when set, is what the live consumer hands its messages to, a
	// batch at a time (Batched); Routes still serve replays and an
	// operator's redelivery of a dead letter.
	Batch BatchHandler
}

// Batched has the subscription's live consumer hand t's messages to fn a
// batch at a time (at most one per beneficiary, in stream order), each
// decoded once, with its own context (its trace) in ctxs; ctx is the
// batch's. A message that cannot be decoded is dead-lettered (Permanent).
// The batch's other messages go to the subscription's routes, one goroutine
// each, at the same time as fn runs: a batch holds no two messages of one
// key, so nothing they touch is shared.
func Batched[T any](s Subscription, t Topic[T], fn func(ctx context.Context, ctxs []context.Context, vs []T) []error) Subscription {
	routes := s.Routes
	s.Batch = func(ctx context.Context, batch []Delivery) []error {
		errs := make([]error, len(batch))
		var (
			mine []int
			ctxs []context.Context
			vs   []T
			wg   sync.WaitGroup
		)
		for i, d := range batch {
			if !t.Matches(d.Msg.Subject) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = routes.Handle(d.Ctx, d.Msg)
				}()
				continue
			}
			v, err := read(t, d.Msg)
			if err != nil {
				errs[i] = err
				continue
			}
			mine, ctxs, vs = append(mine, i), append(ctxs, d.Ctx), append(vs, v)
		}
		if len(vs) > 0 {
			out := fn(ctx, ctxs, vs)
			for j, i := range mine {
				if j < len(out) {
					errs[i] = out[j]
				} else {
					errs[i] = fmt.Errorf("batch handler of %s answered %d results for %d messages", t.Name, len(out), len(vs))
				}
			}
		}
		wg.Wait()
		return errs
	}
	return s
}

// Subscribe binds routes to d; Check says whether they cover its topics.
func Subscribe(d Durable, routes ...Route) Subscription {
	return Subscription{Durable: d, Routes: routes}
}

// KeyedBy sets the ordering key of a KeyedByPayload durable.
func (s Subscription) KeyedBy(key func(subject string, hdr nats.Header, data []byte) string) Subscription {
	s.Key = key
	return s
}

// Check reports a subscription whose routes are not exactly its durable's
// topics, once each, or whose ordering key is missing or not wanted.
func (s Subscription) Check() error {
	var have []string
	for _, r := range s.Routes {
		if slices.Contains(have, r.Topic.Pattern) {
			return fmt.Errorf("durable %s: two handlers for %s", s.Durable.Name, r.Topic.Name)
		}
		have = append(have, r.Topic.Pattern)
		if !slices.ContainsFunc(s.Durable.Topics, func(t TopicSpec) bool { return t.Pattern == r.Topic.Pattern }) {
			return fmt.Errorf("durable %s does not receive %s (%s)", s.Durable.Name, r.Topic.Name, r.Topic.Pattern)
		}
	}
	var missing []string
	for _, t := range s.Durable.Topics {
		if !slices.Contains(have, t.Pattern) {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("durable %s: no handler for %s", s.Durable.Name, strings.Join(missing, ", "))
	}
	if s.Durable.KeyedByPayload != (s.Key != nil) {
		return fmt.Errorf("durable %s: an ordering key from the payload is needed exactly when it is KeyedByPayload", s.Durable.Name)
	}
	return nil
}

// Spec is the consumer specification of the subscription for partitions.
func (s Subscription) Spec(partitions int) ConsumerSpec {
	spec := ConsumerSpec{Stream: s.Durable.Stream, Durable: s.Durable.Name, Subjects: []string{s.Durable.Filter},
		DoubleAck: s.Durable.DoubleAck, Key: s.Key, Batch: s.Batch}
	if s.Durable.Partitioned {
		spec.Partitions = partitions
	}
	return spec
}

// Replay hands every message of the durable's stream that its filter lets
// through (in any partition) to the subscription's handlers, in stream order,
// from the first message to the last one present when it starts: how a
// service rebuilds its state from the record. It returns how many messages
// of the stream it read. A message the handlers reject
// as Permanent is skipped, as the live consumer dead-lettered it.
func (s Subscription) Replay(ctx context.Context, js jetstream.JetStream) (int64, error) {
	return Replay(ctx, js, s.Durable.Stream, func(ctx context.Context, m *Msg) error {
		if !s.Durable.Lets(m.Subject) {
			return nil
		}
		if err := s.Routes.Handle(ctx, m); err != nil && !IsPermanent(err) {
			return err
		}
		return nil
	})
}
