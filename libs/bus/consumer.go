package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/emtm/emtm/libs/otelx"
)

// Msg is a delivered message as a handler sees it.
type Msg struct {
	Subject      string
	Data         []byte
	Header       nats.Header
	Stream       string
	StreamSeq    uint64
	NumDelivered uint64
}

// Handler stores the effect of one message. It returns nil once the effect is
// stored (then the message is acknowledged), a Permanent error for a message
// that can never succeed (dead-lettered at once), or another error to have the
// message redelivered after a delay.
type Handler func(ctx context.Context, m *Msg) error

// Delivery is one message of a batch, with the context of its own trace.
type Delivery struct {
	Ctx context.Context
	Msg *Msg
}

// BatchHandler stores the effects of several messages at once: their Redis
// work in one pipelined round trip per step, their publishes in flight
// together. A batch never holds two messages of one ordering key (one
// beneficiary), and comes in stream order; the next batch is handed over only
// once every message of this one is settled. It returns one error per
// message, meaning what Handler's error means.
type BatchHandler func(ctx context.Context, batch []Delivery) []error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Dead-letter headers.
const (
	HeaderDLQStream     = "Emtm-Dlq-Stream"
	HeaderDLQSubject    = "Emtm-Dlq-Subject"
	HeaderDLQSequence   = "Emtm-Dlq-Sequence"
	HeaderDLQDeliveries = "Emtm-Dlq-Deliveries"
	HeaderDLQError      = "Emtm-Dlq-Error"
	HeaderDLQConsumer   = "Emtm-Dlq-Consumer"
)

// ConsumerSpec describes a durable pull consumer.
type ConsumerSpec struct {
	Stream string
	// Durable names the consumer; with Partitions > 0 one consumer per partition
	// is made, named Durable-p<n>, each filtering its own partition.
	Durable string
	// Subjects are filter subjects; with Partitions > 0 each contains "{p}",
	// replaced by the partition token (e.g. "emtm.claims.{p}.>").
	Subjects []string
	// Partitions > 0 makes one durable per partition, each handled in order.
	Partitions int
	// MaxDeliver bounds redelivery (default 5); then the message is dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivery may take before it is redelivered (default 30s).
	AckWait time.Duration
	// DoubleAck waits for the server to confirm each acknowledgement (money paths).
	DoubleAck bool
	// RetryInPlace bounds how long a transient failure is retried on the spot
	// before the message is handed back for redelivery (default 30s; < 0: never).
	// Retrying on the spot keeps the message ahead of its beneficiary's later
	// events: a redelivery comes after them, and some rules (outreach's repeat
	// window, tasks per assessment) depend on that order.
	RetryInPlace time.Duration
	// Workers > 1 handles each durable's messages on that many goroutines.
	// Messages with the same Key go to the same worker, in stream order, so
	// order is kept per key (e.g. per beneficiary) while keys run in parallel.
	// It hides the round trips of a handler that waits on Redis and NATS.
	Workers int
	// Key picks the worker of a message ("" → worker 0). It must not fail or
	// block; a message it cannot read is keyed "". nil reads the
	// Emtm-Order-Key header that the Publisher sets on events about a member.
	Key func(subject string, hdr nats.Header, data []byte) string
	// Batch, when set, handles the pulled messages up to BatchSize at a time
	// instead of one at a time (Workers is then not used): what has arrived
	// when the previous batches are settled (up to 4,096 events) is
	// split into batches with no key twice, so a batch is one message when
	// events trickle in and up to BatchSize under a backlog. Messages of one
	// key go to successive batches, in stream order.
	Batch BatchHandler
	// BatchSize bounds a batch (default 128; 1: Batch is not used, and the
	// consumer's Handler takes the messages one at a time on the workers).
	BatchSize int
	// PinnedTTL is how long an instance that stopped pulling keeps its
	// partitions before JetStream pins them to another instance (default 10s;
	// at least 3s: the instance pulls again every third of it).
	PinnedTTL time.Duration
	// Peers tells how many partitions the service's live instances hold
	// (Members); each instance then holds its share and hands the rest over.
	// nil: no rebalancing.
	Peers Peers
	// RebalanceEvery is how often an instance compares what it holds with its
	// share (default 2s).
	RebalanceEvery time.Duration
}

// Peers is what a consumer learns of the other instances of its service.
type Peers interface {
	// ID names this instance.
	ID() string
	// Report says how many partitions of durable this instance holds.
	Report(durable string, held int)
	// Holdings is how many partitions of durable each live instance holds.
	Holdings(durable string) map[string]int
}

// maxAckPending bounds the events a durable has delivered and not yet had
// acknowledged: what an instance may hold at once (a batched durable:
// window()).
const maxAckPending = 1000

// batchWindow is how many pulled events a batch consumer looks through at
// once for its batches: many batches' worth, so that a backlog in which one
// beneficiary's events come together (a member's year of claims, as a
// backfill sends them: 16 on average) still makes batches of many
// beneficiaries.
const batchWindow = 4096

// window is how many events a batch consumer holds at most (its MaxAckPending).
func (s *ConsumerSpec) window() int { return max(batchWindow, s.BatchSize) }

// PriorityGroup is the one priority group of every emtm consumer: its
// consumers are pinned, each to one instance at a time.
const PriorityGroup = "emtm"

// headerPinID is set by the server on every message it delivers to the
// pinned client of a consumer.
const headerPinID = "Nats-Pin-Id"

func (s *ConsumerSpec) defaults() {
	if s.MaxDeliver == 0 {
		s.MaxDeliver = 5
	}
	if s.AckWait == 0 {
		s.AckWait = 30 * time.Second
	}
	if s.RetryInPlace == 0 {
		s.RetryInPlace = 30 * time.Second
	}
	if s.PinnedTTL == 0 {
		s.PinnedTTL = 10 * time.Second
	}
	s.PinnedTTL = max(s.PinnedTTL, 3*time.Second)
	if s.RebalanceEvery == 0 {
		s.RebalanceEvery = 2 * time.Second
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 128
	}
	if s.BatchSize == 1 {
		s.Batch = nil
	}
}

// keepEvery is how often the messages a consumer holds unsettled are kept
// from redelivery: a third of the ack wait.
func (c *Consumer) keepEvery() time.Duration { return max(c.spec.AckWait/3, 100*time.Millisecond) }

// pullExpiry is how long one pull request waits: a third of the pin's TTL,
// so that the pinned instance renews its pin well before it lapses.
func (s *ConsumerSpec) pullExpiry() time.Duration { return max(s.PinnedTTL/3, time.Second) }

// Consumer runs a handler over a ConsumerSpec.
type Consumer struct {
	js      jetstream.JetStream
	pub     *Publisher
	tracer  trace.Tracer
	log     *slog.Logger
	spec    ConsumerSpec
	handler Handler
	parts   []*part
	handled metric.Int64Counter
	latency metric.Float64Histogram
	handovr metric.Float64Histogram
	// running is Run's context: retries in place stop when it is done.
	running context.Context
}

// Infos reads the server's view of each durable: pending, waiting for an ack, redelivered.
func (c *Consumer) Infos(ctx context.Context) ([]*jetstream.ConsumerInfo, error) {
	out := make([]*jetstream.ConsumerInfo, 0, len(c.parts))
	for _, p := range c.parts {
		ci, err := p.cons.Info(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, ci)
	}
	return out, nil
}

// NewConsumer creates (or updates) the durable consumers of spec.
func NewConsumer(ctx context.Context, js jetstream.JetStream, tel *otelx.Telemetry, log *slog.Logger, pub *Publisher, spec ConsumerSpec, h Handler) (*Consumer, error) {
	spec.defaults()
	c := &Consumer{js: js, pub: pub, tracer: tel.Tracer("emtm/bus"), log: log, spec: spec, handler: h}
	meter := tel.Meter("emtm/bus")
	c.handled, _ = meter.Int64Counter("emtm.bus.consumed",
		metric.WithDescription("events handled, by stream, consumer and result (ok, retry, dead_letter)"))
	c.latency, _ = meter.Float64Histogram("emtm.bus.handle.duration", metric.WithUnit("s"),
		metric.WithDescription("time to handle one event, until its effect is stored"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	c.handovr, _ = meter.Float64Histogram("emtm.bus.handover.wait", metric.WithUnit("s"),
		metric.WithDescription("time an instance that was just pinned a partition waited for the previous holder's events before handling any"),
		metric.WithExplicitBucketBoundaries(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
	type one struct {
		name     string
		subjects []string
	}
	var all []one
	if spec.Partitions > 0 {
		for _, p := range PartitionTokens(spec.Partitions) {
			subs := make([]string, len(spec.Subjects))
			for i, s := range spec.Subjects {
				subs[i] = replacePartition(s, p)
			}
			all = append(all, one{spec.Durable + "-" + p, subs})
		}
	} else {
		all = append(all, one{spec.Durable, spec.Subjects})
	}
	pending := maxAckPending
	if spec.Batch != nil {
		pending = spec.window()
	}
	for _, o := range all {
		cfg := jetstream.ConsumerConfig{
			Durable:       o.name,
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxDeliver:    spec.MaxDeliver,
			AckWait:       spec.AckWait,
			MaxAckPending: pending,
			// One instance at a time receives a partition's events (JetStream
			// 2.11+ priority groups): order per beneficiary holds across instances.
			PriorityPolicy: jetstream.PriorityPolicyPinned,
			PriorityGroups: []string{PriorityGroup},
			PinnedTTL:      spec.PinnedTTL,
		}
		if len(o.subjects) == 1 {
			cfg.FilterSubject = o.subjects[0]
		} else {
			cfg.FilterSubjects = o.subjects
		}
		cons, err := createConsumer(ctx, js, spec.Stream, cfg, log)
		if err != nil {
			return nil, fmt.Errorf("consumer %s on %s: %w", o.name, spec.Stream, err)
		}
		c.parts = append(c.parts, &part{name: o.name, cons: cons})
	}
	return c, nil
}

// createConsumer creates or updates a durable, retrying for up to a minute
// while the JetStream cluster answers late or not at all (a meta leader busy
// with many instances creating their consumers at once, an election): a
// service that gave up at once would stop at start-up for a passing reason.
// Any other refusal (a bad configuration, a permission) is returned at once.
func createConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	deadline := time.Now().Add(time.Minute)
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := js.CreateOrUpdateConsumer(actx, stream, cfg)
		cancel()
		if err == nil || !transientAPIError(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return cons, err
		}
		log.Warn("creating a consumer: JetStream did not answer; trying again", "consumer", cfg.Durable, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// transientAPIError reports whether a JetStream API call failed for a
// passing reason: no answer in time, no responder, or a cluster unavailable (503).
func transientAPIError(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		(errors.As(err, &apiErr) && apiErr.Code == 503)
}

func replacePartition(s, p string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if i+3 <= len(s) && s[i:i+3] == "{p}" {
			out = append(out, p...)
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// part is one durable consumer of the spec (one partition) as this instance
// pulls it: the pin JetStream gave this instance on it, and whether the
// instance has stepped back from it for a while to let another hold it.
type part struct {
	name string
	cons jetstream.Consumer

	mu         sync.Mutex
	pin        string             // the pin id of the messages last received; "" none
	yieldUntil time.Time          // not pulled before this
	stop       context.CancelFunc // ends the current pull (to yield)
}

func (p *part) pinned() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pin
}

func (p *part) setPin(pin string) {
	p.mu.Lock()
	p.pin = pin
	p.mu.Unlock()
}

// Run handles messages until ctx is done, then drains what was already pulled
// (handling it with a context that is not cancelled) and returns. With
// spec.Peers, it also hands partitions beyond this instance's share over to
// the other instances.
func (c *Consumer) Run(ctx context.Context) error {
	c.running = ctx
	var wg sync.WaitGroup
	errs := make([]error, len(c.parts))
	for i, p := range c.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.runOne(ctx, p)
		}()
	}
	if c.spec.Peers != nil && len(c.parts) > 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.rebalance(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runOne consumes one durable until ctx is done. A pull interrupted by the
// bus (a missed heartbeat when a cluster node dies, a reconnect) is resumed
// after a pause, once what was pulled is finished; only a consumer that no
// longer exists ends it with an error (the service stops, and its restart
// creates the durable again). A yielded partition is unpinned once what was
// pulled is finished, and pulled again (as a standby) after the yield.
func (c *Consumer) runOne(ctx context.Context, p *part) error {
	pause := 250 * time.Millisecond
	for {
		p.mu.Lock()
		wait := time.Until(p.yieldUntil)
		p.mu.Unlock()
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		pctx, stop := context.WithCancel(ctx)
		p.mu.Lock()
		p.stop = stop
		p.mu.Unlock()
		err := c.consume(pctx, p)
		stop()
		if ctx.Err() != nil {
			// Shutting down with everything received finished: another
			// instance may have the partition at once, not after the pin lapses.
			c.unpin(p, "shutting down")
			return nil
		}
		if pctx.Err() != nil { // yielded: finished what it had; now let another instance be pinned
			c.unpin(p, "yielding")
			continue
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("consume %s: %w", p.name, err)
		}
		c.log.Warn("consuming interrupted; resuming", "consumer", p.name, "pause", pause.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// unpin releases the partition this instance holds (if it does), once what it
// received is finished. Should it fail, the pin lapses after spec.PinnedTTL.
func (c *Consumer) unpin(p *part, why string) {
	if p.pinned() == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Only while the pin is still this instance's: unpinning another
	// instance's pin would move the partition for nothing.
	if ci, err := p.cons.Info(ctx); err != nil || !pinnedTo(ci, p.pinned()) {
		p.setPin("")
		return
	}
	st, err := c.js.Stream(ctx, c.spec.Stream)
	if err == nil {
		err = st.UnpinConsumer(ctx, p.name, PriorityGroup)
	}
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		c.log.Warn("unpin failed; the pin lapses by itself", "consumer", p.name, "why", why, "err", err)
	}
	p.setPin("")
}

// consume pulls and handles messages until ctx is done (nil) or the pull fails.
// JetStream delivers a partition to one pinned instance at a time; when this
// instance is newly pinned (a message carries a pin id it has not seen), it
// first takes the partition over (takeOver), so that the events the previous
// holder had received but not finished are handled before any later one.
func (c *Consumer) consume(ctx context.Context, p *part) error {
	pull := 64
	if c.spec.Batch != nil {
		pull = c.spec.window()
	}
	it, err := p.cons.Messages(jetstream.PullMaxMessages(pull), jetstream.PullPriorityGroup(PriorityGroup),
		jetstream.PullExpiry(c.spec.pullExpiry()))
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			it.Drain()
		case <-stop:
			it.Stop()
		}
	}()
	if c.spec.Batch != nil {
		return c.consumeBatches(ctx, p, it)
	}
	in, stopPull := c.pull(it)
	defer stopPull()
	// Work already pulled is finished even while shutting down.
	hctx := context.WithoutCancel(ctx)
	dispatch, wait := c.workers(hctx, p.name, in)
	defer func() { wait() }()
	for {
		m, err := in.next(-1)
		if err != nil {
			return pullEnded(ctx, err)
		}
		if pin := m.Headers().Get(headerPinID); pin != p.pinned() {
			wait() // what was received under an earlier pin is finished first
			batch, err := c.takeOver(ctx, p, in, []jetstream.Msg{m})
			dispatch, wait = c.workers(hctx, p.name, in)
			if err != nil {
				// Nothing of the batch is handled or acknowledged: it is
				// redelivered, and the next pull takes the partition over again.
				p.setPin("")
				return pullEnded(ctx, err)
			}
			p.setPin(pin)
			for _, b := range batch {
				dispatch(b)
			}
			continue
		}
		dispatch(m)
	}
}

// pullEnded is what consuming returns when the pull ended with err: nil when
// the iterator was closed because the consumer is stopping.
func pullEnded(ctx context.Context, err error) error {
	if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
		return nil
	}
	return err
}

// inbox holds what one pull of a partition has brought until it is settled:
// the messages a feeder goroutine has read from the pull and the consumer has
// not taken yet (a queue, not a channel, so that every one can be reached),
// and those taken and not yet settled. A keeper (pull) keeps them all from
// redelivery while the consumer is busy: a retry in place can take longer
// than the ack wait, and whatever waits behind it (in the queue, on a
// worker, in a later batch) would otherwise be delivered again meanwhile.
// The server bounds it: a durable delivers at most its MaxAckPending at once.
type inbox struct {
	mu    sync.Mutex
	msgs  []jetstream.Msg
	taken map[jetstream.Msg]struct{}
	err   error         // what ended the pull, once the messages before it are taken
	ready chan struct{} // a message or the end has arrived
}

func newInbox() *inbox {
	return &inbox{taken: map[jetstream.Msg]struct{}{}, ready: make(chan struct{}, 1)}
}

// put adds what the pull brought.
func (b *inbox) put(m jetstream.Msg, err error) {
	b.mu.Lock()
	if err != nil {
		b.err = err
	} else {
		b.msgs = append(b.msgs, m)
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take returns up to n messages, waiting at most wait for the first (a
// negative wait: for as long as it takes); err is what ended the pull once
// every message before it is taken, nats.ErrTimeout when nothing came. The
// messages are kept until settled says they are settled.
func (b *inbox) take(n int, wait time.Duration) ([]jetstream.Msg, error) {
	var timeout <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		b.mu.Lock()
		if len(b.msgs) > 0 {
			k := min(n, len(b.msgs))
			out := slices.Clone(b.msgs[:k])
			b.msgs = slices.Delete(b.msgs, 0, k)
			for _, m := range out {
				b.taken[m] = struct{}{}
			}
			b.mu.Unlock()
			return out, nil
		}
		err := b.err
		b.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-b.ready:
		case <-timeout:
			return nil, nats.ErrTimeout
		}
	}
}

// settled forgets messages acknowledged, retried later or dead-lettered.
func (b *inbox) settled(ms ...jetstream.Msg) {
	b.mu.Lock()
	for _, m := range ms {
		delete(b.taken, m)
	}
	b.mu.Unlock()
}

// touch tells the server that each message held is being worked on.
func (b *inbox) touch() {
	b.mu.Lock()
	held := slices.Clone(b.msgs)
	for m := range b.taken {
		held = append(held, m)
	}
	b.mu.Unlock()
	for _, m := range held {
		_ = m.InProgress()
	}
}

// pull starts reading it into an inbox and keeping what the inbox holds from
// redelivery every third of the ack wait, until stop is called.
func (c *Consumer) pull(it jetstream.MessagesContext) (in *inbox, stop func()) {
	in = newInbox()
	done := make(chan struct{})
	go func() {
		for {
			m, err := it.Next()
			in.put(m, err)
			if err != nil {
				return
			}
		}
	}()
	go func() {
		t := time.NewTicker(c.keepEvery())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				in.touch()
			}
		}
	}()
	return in, func() { close(done) }
}

// next takes one message (take(1, wait)): what the unbatched consumer and
// takeOver read.
func (b *inbox) next(wait time.Duration) (jetstream.Msg, error) {
	ms, err := b.take(1, wait)
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// consumeBatches is consume for a spec.Batch handler: what the inbox holds
// when the previous messages are settled (at least one message, at most
// spec.window()) is handled in batches of distinct keys (handleBatch). A
// newly pinned partition is taken over as consume does, after the messages
// that came under the earlier pin.
func (c *Consumer) consumeBatches(ctx context.Context, p *part, it jetstream.MessagesContext) error {
	in, stop := c.pull(it)
	defer stop()
	// Work already pulled is finished even while shutting down.
	hctx := context.WithoutCancel(ctx)
	for {
		batch, err := in.take(c.spec.window(), -1)
		if err != nil {
			return pullEnded(ctx, err)
		}
		for len(batch) > 0 {
			i := slices.IndexFunc(batch, func(m jetstream.Msg) bool { return m.Headers().Get(headerPinID) != p.pinned() })
			if i < 0 {
				c.handleBatch(hctx, p.name, in, batch)
				break
			}
			c.handleBatch(hctx, p.name, in, batch[:i]) // what came under the earlier pin first
			pin := batch[i].Headers().Get(headerPinID)
			held, err := c.takeOver(ctx, p, in, batch[i:])
			if err != nil {
				// Nothing held is handled or acknowledged: it is redelivered,
				// and the next pull takes the partition over again.
				p.setPin("")
				return pullEnded(ctx, err)
			}
			p.setPin(pin)
			batch = held
		}
	}
}

// takeOver holds the messages of a newly pinned partition, without handling
// any, until no other instance has one outstanding: the consumer's count of
// delivered, unacknowledged messages is down to those held here. The previous
// holder either finished its own (acknowledged them) or died, and then its
// messages come here when their ack wait runs out. The held messages are
// returned in stream order, so that each beneficiary's events keep their
// order across the hand-over. The wait is bounded (twice the ack wait plus the
// pin's TTL); a consumer that still counts others' messages after it is
// logged and handled as it stands.
func (c *Consumer) takeOver(ctx context.Context, p *part, in *inbox, first []jetstream.Msg) ([]jetstream.Msg, error) {
	started := time.Now()
	held := map[uint64]jetstream.Msg{}
	// fresh is the delivery sequence of the first message delivered here for
	// the first time: every delivery before it went to an earlier holder.
	var fresh uint64
	hold := func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			c.log.Error("message without metadata", "consumer", p.name, "err", err)
			_ = m.Term()
			in.settled(m)
			return
		}
		if was, ok := held[md.Sequence.Stream]; ok {
			in.settled(was) // a redelivery of one held replaces it
		}
		held[md.Sequence.Stream] = m
		if md.NumDelivered == 1 && (fresh == 0 || md.Sequence.Consumer < fresh) {
			fresh = md.Sequence.Consumer
		}
	}
	for _, m := range first {
		hold(m)
	}
	deadline := started.Add(2*c.spec.AckWait + c.spec.PinnedTTL)
	for {
		// Done when no earlier holder has an event outstanding: every delivery
		// before this instance's first is acknowledged (the ack floor; a
		// redelivery keeps its first delivery's sequence there), or every
		// unacknowledged event is one held here. The count alone is not
		// enough under a steady flow: the pull keeps bringing more events
		// than are held, and the hand-over waited for its deadline (the
		// 45-second stall at the start of the durable benchmark, issue 17).
		ci, err := p.cons.Info(ctx)
		if err == nil && (ci.NumAckPending <= len(held) || (fresh > 0 && ci.AckFloor.Consumer+1 >= fresh)) {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			c.log.Warn("taking a partition over: events of another instance are still outstanding; handling on",
				"consumer", p.name, "held", len(held), "waited", time.Since(started).String())
			break
		}
		m, err := in.next(100 * time.Millisecond)
		switch {
		case err == nil:
			hold(m)
		case errors.Is(err, nats.ErrTimeout):
		default:
			return nil, err
		}
	}
	seqs := make([]uint64, 0, len(held))
	for s := range held {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	out := make([]jetstream.Msg, len(seqs))
	for i, s := range seqs {
		out[i] = held[s]
	}
	waited := time.Since(started)
	c.handovr.Record(ctx, waited.Seconds(), metric.WithAttributes(attribute.String("stream", c.spec.Stream), attribute.String("consumer", c.spec.Durable)))
	c.log.Info("partition taken over", "consumer", p.name, "pin", first[0].Headers().Get(headerPinID), "previous_pin", p.pinned(),
		"waited", waited.String(), "events", len(out))
	return out, nil
}

// rebalance compares, every spec.RebalanceEvery, how many partitions this
// instance holds with what the other instances hold (spec.Peers) and yields
// what it should not hold: it stops pulling a partition, finishes what it
// received, unpins it and stays away for a while, so that another instance's
// waiting pull is pinned instead. An instance that joins thus gets partitions
// from the others; one that dies loses its pins when they lapse.
func (c *Consumer) rebalance(ctx context.Context) {
	t := time.NewTicker(c.spec.RebalanceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.spec.Peers.Report(c.spec.Durable, 0)
			return
		case <-t.C:
		}
		var held []*part
		for _, p := range c.parts {
			pin := p.pinned()
			if pin == "" {
				continue
			}
			if ci, err := p.cons.Info(ctx); err == nil && pinnedTo(ci, pin) {
				held = append(held, p)
			}
		}
		c.spec.Peers.Report(c.spec.Durable, len(held))
		holdings := c.spec.Peers.Holdings(c.spec.Durable)
		holdings[c.spec.Peers.ID()] = len(held)
		n := toYield(c.spec.Peers.ID(), holdings, len(c.parts))
		if n == 0 {
			continue
		}
		away := 2*c.spec.PinnedTTL + c.spec.RebalanceEvery
		for _, p := range held[len(held)-n:] {
			p.mu.Lock()
			p.yieldUntil = time.Now().Add(away)
			if p.stop != nil {
				p.stop()
			}
			p.mu.Unlock()
		}
		c.spec.Peers.Report(c.spec.Durable, len(held)-n)
		c.log.Info("handing partitions over to other instances", "durable", c.spec.Durable,
			"instances", len(holdings), "held", len(held), "yielded", n)
	}
}

// pinnedTo reports whether the consumer's partition is pinned to pin.
func pinnedTo(ci *jetstream.ConsumerInfo, pin string) bool {
	for _, g := range ci.PriorityGroups {
		if g.Group == PriorityGroup && pin != "" && g.PinnedClientID == pin {
			return true
		}
	}
	return false
}

// toYield is how many of its partitions instance self should hand over, given
// what each live instance holds of a durable with parts partitions. Each
// instance should hold floor(parts/n) or one more. One holding more than that
// yields the excess; while an instance holds fewer than floor(parts/n), the
// instance holding the most (the smallest id among equals) yields one, so
// that instances do not all yield at once.
func toYield(self string, holdings map[string]int, parts int) int {
	n := len(holdings)
	if n <= 1 {
		return 0
	}
	floor := parts / n
	ceil := (parts + n - 1) / n
	mine := holdings[self]
	if mine > ceil {
		return mine - ceil
	}
	lacking := false
	donor, most := "", -1
	for _, id := range slices.Sorted(maps.Keys(holdings)) {
		h := holdings[id]
		if h < floor {
			lacking = true
		}
		if h > most {
			donor, most = id, h
		}
	}
	if lacking && donor == self && mine > floor {
		return 1
	}
	return 0
}

// workers returns how a pulled message is handled: at once, or, with
// spec.Workers > 1, on the worker its key hashes to. wait closes the workers
// and waits until each has finished what it was given.
func (c *Consumer) workers(ctx context.Context, durable string, in *inbox) (dispatch func(jetstream.Msg), wait func()) {
	n := c.spec.Workers
	if n <= 1 {
		return func(m jetstream.Msg) { c.handle(ctx, durable, m); in.settled(m) }, func() {}
	}
	chans := make([]chan jetstream.Msg, n)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan jetstream.Msg, 16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range chans[i] {
				c.handle(ctx, durable, m)
				in.settled(m)
			}
		}()
	}
	dispatch = func(m jetstream.Msg) {
		var key string
		if c.spec.Key != nil {
			key = c.spec.Key(m.Subject(), m.Headers(), m.Data())
		} else {
			key = m.Headers().Get(HeaderOrderKey)
		}
		chans[WorkerOf(key, n)] <- m
	}
	wait = func() {
		for _, ch := range chans {
			close(ch)
		}
		wg.Wait()
	}
	return dispatch, wait
}

// WorkerOf is the worker (0..n-1) that handles key; "" is worker 0.
func WorkerOf(key string, n int) int {
	if key == "" || n <= 1 {
		return 0
	}
	return int(keyHash(key) % uint32(n))
}

func (c *Consumer) handle(ctx context.Context, durable string, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		c.log.Error("message without metadata", "consumer", durable, "err", err)
		_ = m.Term()
		return
	}
	sctx, span, msg := c.start(ctx, durable, m, md)
	defer span.End()
	started := time.Now()
	herr := c.retryInPlace(sctx, durable, m, msg, c.handler(sctx, msg), func(ctx context.Context) error { return c.handler(ctx, msg) })
	c.settle(ctx, sctx, durable, m, md, msg, span, herr, started)
}

// start opens the span of one delivered message, continuing the trace its
// publisher began, and reads the message as a handler sees it.
func (c *Consumer) start(ctx context.Context, durable string, m jetstream.Msg, md *jetstream.MsgMetadata) (context.Context, trace.Span, *Msg) {
	hdr := m.Headers()
	if hdr == nil {
		hdr = nats.Header{}
	}
	pctx := otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(hdr))
	sctx, span := c.tracer.Start(pctx, "process "+c.spec.Stream, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Subject()),
			attribute.String("messaging.consumer.group.name", durable),
			attribute.Int64("messaging.nats.stream_sequence", int64(md.Sequence.Stream)),
			attribute.Int64("messaging.nats.delivered", int64(md.NumDelivered)),
		))
	msg := &Msg{Subject: m.Subject(), Data: m.Data(), Header: hdr, Stream: md.Stream, StreamSeq: md.Sequence.Stream, NumDelivered: md.NumDelivered}
	return sctx, span, msg
}

// settle ends a handled message by its handler's result herr: acknowledged
// once its effect is stored, dead-lettered when it can never succeed or has
// been delivered spec.MaxDeliver times, otherwise handed back for a later
// redelivery.
func (c *Consumer) settle(ctx, sctx context.Context, durable string, m jetstream.Msg, md *jetstream.MsgMetadata, msg *Msg, span trace.Span, herr error, started time.Time) {
	attrs := []attribute.KeyValue{attribute.String("stream", md.Stream), attribute.String("consumer", c.spec.Durable)}
	c.latency.Record(ctx, time.Since(started).Seconds(), metric.WithAttributes(attrs...))
	result := "ok"
	defer func() {
		c.handled.Add(ctx, 1, metric.WithAttributes(append(attrs, attribute.String("result", result))...))
	}()
	var err error
	switch {
	case herr == nil:
		if c.spec.DoubleAck {
			err = m.DoubleAck(sctx)
		} else {
			err = m.Ack()
		}
		if err != nil {
			// The effect is stored and idempotent: a redelivery will be a no-op.
			c.log.Warn("ack failed; message will be redelivered", "consumer", durable, "seq", md.Sequence.Stream, "err", err)
		}
	case IsPermanent(herr) || md.NumDelivered >= uint64(c.spec.MaxDeliver):
		result = "dead_letter"
		span.RecordError(herr)
		span.SetStatus(codes.Error, "dead-lettered")
		if err := c.deadLetter(sctx, durable, msg, herr); err != nil {
			result = "retry"
			c.log.Error("dead-letter publish failed; will retry", "consumer", durable, "seq", md.Sequence.Stream, "err", err)
			_ = m.NakWithDelay(backoff(md.NumDelivered))
			return
		}
		c.log.Error("message dead-lettered", "consumer", durable, "stream", md.Stream, "seq", md.Sequence.Stream,
			"deliveries", md.NumDelivered, "err", herr)
		_ = m.TermWithReason("dead-lettered: " + herr.Error())
	default:
		result = "retry"
		span.RecordError(herr)
		span.SetStatus(codes.Error, "will retry")
		c.log.Warn("handler failed; will retry", "consumer", durable, "seq", md.Sequence.Stream, "deliveries", md.NumDelivered, "err", herr)
		_ = m.NakWithDelay(backoff(md.NumDelivered))
	}
}

// keyOf is a message's ordering key (spec.Key, or the Emtm-Order-Key header).
func (c *Consumer) keyOf(m jetstream.Msg) string {
	if c.spec.Key != nil {
		return c.spec.Key(m.Subject(), m.Headers(), m.Data())
	}
	return m.Headers().Get(HeaderOrderKey)
}

// batchLanes is how many batches of one batch consumer are handled at once:
// the pulled messages are dealt to lanes by key, and each lane handles its
// batches one after another, so a key's messages stay in order while a
// lane waiting for Redis or the bus does not hold the others up.
const batchLanes = 4

// handleBatch handles pulled messages with spec.Batch: dealt to batchLanes
// lanes by key, each lane's in batches that hold at most one message of a
// key, one batch after another. The inbox keeps each message from
// redelivery until its batch is settled.
func (c *Consumer) handleBatch(ctx context.Context, durable string, in *inbox, msgs []jetstream.Msg) {
	type keyed struct {
		m   jetstream.Msg
		key string
	}
	lanes := make([][]keyed, batchLanes)
	for _, m := range msgs {
		k := c.keyOf(m)
		l := WorkerOf(k, batchLanes)
		lanes[l] = append(lanes[l], keyed{m, k})
	}
	var wg sync.WaitGroup
	for _, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, wave := range Waves(lane, func(k keyed) string { return k.key }, c.spec.BatchSize) {
				ms := make([]jetstream.Msg, len(wave))
				for j, k := range wave {
					ms[j] = k.m
				}
				c.handleWave(ctx, durable, ms)
				in.settled(ms...)
			}
		}()
	}
	wg.Wait()
}

// Waves splits items (in stream order) into batches of at most size items
// with no key twice: the n-th item of a key goes to a batch after the one
// holding its (n-1)-th, so each key keeps its order when the batches are
// handled one after another. Items of different keys keep their relative
// order within a batch.
func Waves[T any](items []T, key func(T) string, size int) [][]T {
	size = max(size, 1)
	rank := make(map[string]int, len(items))
	var byRank [][]T
	for _, it := range items {
		k := key(it)
		r := rank[k]
		rank[k] = r + 1
		if r == len(byRank) {
			byRank = append(byRank, nil)
		}
		byRank[r] = append(byRank[r], it)
	}
	var out [][]T
	for _, w := range byRank {
		for len(w) > size {
			out = append(out, w[:size:size])
			w = w[size:]
		}
		out = append(out, w)
	}
	return out
}

// handleWave hands one wave to spec.Batch under a span linked to each
// message's own, retries in place (one at a time) the messages that failed
// for a passing reason, and settles each.
func (c *Consumer) handleWave(ctx context.Context, durable string, ms []jetstream.Msg) {
	type item struct {
		m    jetstream.Msg
		md   *jetstream.MsgMetadata
		span trace.Span
		d    Delivery
	}
	items := make([]item, 0, len(ms))
	links := make([]trace.Link, 0, len(ms))
	for _, m := range ms {
		md, err := m.Metadata()
		if err != nil {
			c.log.Error("message without metadata", "consumer", durable, "err", err)
			_ = m.Term()
			continue
		}
		sctx, span, msg := c.start(ctx, durable, m, md)
		items = append(items, item{m: m, md: md, span: span, d: Delivery{Ctx: sctx, Msg: msg}})
		links = append(links, trace.Link{SpanContext: span.SpanContext()})
	}
	if len(items) == 0 {
		return
	}
	ds := make([]Delivery, len(items))
	for i, it := range items {
		ds[i] = it.d
	}
	started := time.Now()
	bctx, bspan := c.tracer.Start(ctx, "process batch "+c.spec.Stream, trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("messaging.consumer.group.name", durable), attribute.Int("messaging.batch.message_count", len(ds))))
	errs := c.runBatch(bctx, ds)
	bspan.End()
	// What succeeded is acknowledged first (no key is twice in a batch), so
	// that a retry in place below does not keep it waiting.
	for pass := 0; pass < 2; pass++ {
		for i, it := range items {
			if (errs[i] == nil) != (pass == 0) {
				continue
			}
			again := func(ctx context.Context) error { return c.runBatch(ctx, []Delivery{{Ctx: ctx, Msg: it.d.Msg}})[0] }
			herr := c.retryInPlace(it.d.Ctx, durable, it.m, it.d.Msg, errs[i], again)
			c.settle(ctx, it.d.Ctx, durable, it.m, it.md, it.d.Msg, it.span, herr, started)
			it.span.End()
		}
	}
}

// runBatch calls spec.Batch; a handler that does not answer for each message
// fails them all (to be retried).
func (c *Consumer) runBatch(ctx context.Context, ds []Delivery) []error {
	errs := c.spec.Batch(ctx, ds)
	if len(errs) != len(ds) {
		err := fmt.Errorf("batch handler of %s answered %d results for %d messages", c.spec.Durable, len(errs), len(ds))
		errs = make([]error, len(ds))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// retryInPlace retries a handler that failed with a transient error (a
// publish while a NATS node fails over, Redis restarting) for up to
// spec.RetryInPlace, keeping the message from being redelivered meanwhile;
// again handles the message once more.
func (c *Consumer) retryInPlace(ctx context.Context, durable string, m jetstream.Msg, msg *Msg, herr error, again func(context.Context) error) error {
	pause := 100 * time.Millisecond
	maxPause := min(2*time.Second, c.spec.AckWait/2)
	deadline := time.Now().Add(c.spec.RetryInPlace)
	for herr != nil && !IsPermanent(herr) && time.Now().Before(deadline) {
		if c.running != nil && c.running.Err() != nil {
			return herr // shutting down: the redelivery will do it
		}
		_ = m.InProgress() // not redelivered meanwhile
		c.log.Warn("handler failed; retrying in place", "consumer", durable, "seq", msg.StreamSeq, "pause", pause.String(), "err", herr)
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
		herr = again(ctx)
	}
	return herr
}

func (c *Consumer) deadLetter(ctx context.Context, durable string, m *Msg, cause error) error {
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = append([]string(nil), v...)
	}
	h.Set(HeaderDLQStream, m.Stream)
	h.Set(HeaderDLQSubject, m.Subject)
	h.Set(HeaderDLQSequence, strconv.FormatUint(m.StreamSeq, 10))
	h.Set(HeaderDLQDeliveries, strconv.FormatUint(m.NumDelivered, 10))
	h.Set(HeaderDLQConsumer, durable)
	h.Set(HeaderDLQError, cause.Error())
	_, err := c.pub.Publish(ctx, Out{
		Subject: DeadLetterSubject(durable),
		MsgID:   fmt.Sprintf("dlq:%s:%d:%s", m.Stream, m.StreamSeq, durable),
		Data:    m.Data,
		Header:  h,
	})
	return err
}

// backoff grows with each delivery: 1s, 2s, 4s, ... capped at 30s.
func backoff(delivered uint64) time.Duration {
	if delivered < 1 {
		delivered = 1
	}
	d := time.Second << min(delivered-1, 5)
	return min(d, 30*time.Second)
}

// Owns reports whether durable (one partition's name) is one of the consumer's.
func (c *Consumer) Owns(durable string) bool {
	for _, p := range c.parts {
		if p.name == durable {
			return true
		}
	}
	return false
}

// HandleDeadLetter hands a dead letter of this consumer (read back from
// EMTM_DLQ) to its handler, now, as a delivery of the original message: the
// operator's redelivery. The handler is idempotent, as for any redelivery.
func (c *Consumer) HandleDeadLetter(ctx context.Context, dl *Msg) error {
	h := nats.Header{}
	for k, v := range dl.Header {
		if !strings.HasPrefix(k, "Emtm-Dlq-") {
			h[k] = v
		}
	}
	orig := dl.Header.Get(HeaderDLQSubject)
	if orig == "" {
		return errors.New("the dead letter names no subject it came from")
	}
	seq, _ := strconv.ParseUint(dl.Header.Get(HeaderDLQSequence), 10, 64)
	m := &Msg{Subject: orig, Data: dl.Data, Header: h, Stream: dl.Header.Get(HeaderDLQStream), StreamSeq: seq, NumDelivered: 1}
	ctx, span := c.tracer.Start(ctx, "redeliver "+c.spec.Stream, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.destination.name", orig), attribute.Int64("messaging.nats.stream_sequence", int64(seq))))
	defer span.End()
	if err := c.handler(ctx, m); err != nil {
		span.RecordError(err)
		return err
	}
	return nil
}
