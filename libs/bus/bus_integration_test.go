package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
)

func setup(t *testing.T) (*testkit.Env, *otelx.Telemetry, *bus.Publisher) {
	t.Helper()
	env := testkit.Start(t)
	tel, err := otelx.Setup(context.Background(), "bus-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return env, tel, bus.NewPublisher(env.JS, tel, "bus-test")
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func runConsumer(t *testing.T, env *testkit.Env, tel *otelx.Telemetry, pub *bus.Publisher, spec bus.ConsumerSpec, h bus.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := bus.NewConsumer(ctx, env.JS, tel, quiet(), pub, spec, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("consumer: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("consumer did not stop within 10s")
		}
	})
}

func TestPublishDropsARetriedMessage(t *testing.T) {
	t.Parallel()
	env, _, pub := setup(t)
	ctx := context.Background()
	ev := &typesv1.Date{Year: 2024, Month: 1, Day: 2}
	first, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimPaidSubject("p0"), MsgID: "claim/1", Msg: ev})
	if err != nil {
		t.Fatal(err)
	}
	second, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimPaidSubject("p0"), MsgID: "claim/1", Msg: ev})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Duplicate || !second[0].Duplicate || first[0].Sequence != second[0].Sequence {
		t.Fatalf("first %+v second %+v: the retry was not recognised as a duplicate", first[0], second[0])
	}
	st, _ := env.JS.Stream(ctx, bus.StreamClaims)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	if _, err := pub.Publish(ctx, bus.Out{Subject: "emtm.claims.p0.paid", Msg: ev}); err == nil {
		t.Fatal("a message without a Nats-Msg-Id was published")
	}
}

func TestConsumerContinuesTheTraceAndAcks(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	ctx, span := tel.Tracer("test").Start(context.Background(), "root")
	wantTrace := span.SpanContext().TraceID().String()
	got := make(chan string, 1)
	runConsumer(t, env, tel, pub, bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "trace-test", Subjects: []string{"emtm.claims.>"}},
		func(ctx context.Context, m *bus.Msg) error {
			var d typesv1.Date
			if err := proto.Unmarshal(m.Data, &d); err != nil {
				return bus.Permanent(err)
			}
			got <- otelx.TraceID(ctx)
			return nil
		})
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimPaidSubject("p1"), MsgID: "claim/2", Msg: &typesv1.Date{Year: 2024}}); err != nil {
		t.Fatal(err)
	}
	span.End()
	select {
	case tr := <-got:
		if tr != wantTrace {
			t.Fatalf("consumer trace %s, want the producer's %s", tr, wantTrace)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message not consumed within 10s")
	}
	waitIdle(t, env)
}

func TestFailingMessagesAreDeadLetteredAfterBoundedRedelivery(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	var mu sync.Mutex
	calls := map[string]int{}
	runConsumer(t, env, tel, pub, bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "dlq-test", Subjects: []string{"emtm.claims.>"}, MaxDeliver: 2, AckWait: 5 * time.Second, RetryInPlace: 300 * time.Millisecond},
		func(ctx context.Context, m *bus.Msg) error {
			mu.Lock()
			calls[m.Subject]++
			mu.Unlock()
			if m.Subject == bus.ClaimPaidSubject("p0") {
				return errors.New("transient failure that never clears")
			}
			return bus.Permanent(errors.New("cannot decode"))
		})
	ctx := context.Background()
	if _, err := pub.Publish(ctx,
		bus.Out{Subject: bus.ClaimPaidSubject("p0"), MsgID: "retry", Data: []byte("a")},
		bus.Out{Subject: bus.ClaimReversedSubject("p0"), MsgID: "perm", Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	dlq, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamDLQ, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := dlq.Fetch(2, jetstream.FetchMaxWait(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for m := range batch.Messages() {
		seen[m.Headers().Get(bus.HeaderDLQSubject)] = m.Headers().Get(bus.HeaderDLQDeliveries) + " " + string(m.Data())
		if m.Headers().Get(bus.HeaderDLQError) == "" || m.Subject() != bus.DeadLetterSubject("dlq-test") {
			t.Errorf("dead letter without an error or on %s", m.Subject())
		}
	}
	want := map[string]string{bus.ClaimPaidSubject("p0"): "2 a", bus.ClaimReversedSubject("p0"): "1 b"}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("dead letter for %s: got %q, want deliveries+data %q", k, seen[k], v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Each of the 2 deliveries is retried in place for 300ms (100ms, then 200ms): 3 calls each.
	if n := calls[bus.ClaimPaidSubject("p0")]; n < 4 || n > 8 || calls[bus.ClaimReversedSubject("p0")] != 1 {
		t.Fatalf("handler calls %v, want 4-8 (2 deliveries, each retried in place) and 1 (permanent)", calls)
	}
}

func TestPartitionedConsumersKeepEachMembersOrder(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	const members, perMember, parts = 12, 20, 4
	var mu sync.Mutex
	last := map[string]int{}
	var disorder []string
	total := 0
	runConsumer(t, env, tel, pub, bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "order-test", Subjects: []string{"emtm.claims.{p}.>"}, Partitions: parts},
		func(ctx context.Context, m *bus.Msg) error {
			var d typesv1.Date // Year = member, Day = sequence
			if err := proto.Unmarshal(m.Data, &d); err != nil {
				return bus.Permanent(err)
			}
			key := string(rune('A' + d.Year))
			mu.Lock()
			defer mu.Unlock()
			if int(d.Day) <= last[key] {
				disorder = append(disorder, key)
			}
			last[key] = int(d.Day)
			total++
			return nil
		})
	var outs []bus.Out
	for seq := 1; seq <= perMember; seq++ {
		for mb := 0; mb < members; mb++ {
			key := string(rune('A' + mb))
			outs = append(outs, bus.Out{
				Subject: bus.ClaimPaidSubject(bus.Partition(key, parts)),
				MsgID:   key + "/" + string(rune('a'+seq)),
				Msg:     &typesv1.Date{Year: int32(mb), Day: int32(seq)},
			})
		}
	}
	if _, err := pub.Publish(context.Background(), outs...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, env)
	mu.Lock()
	defer mu.Unlock()
	if total != members*perMember || len(disorder) > 0 {
		t.Fatalf("handled %d of %d; out of order for %v", total, members*perMember, disorder)
	}
}

func waitIdle(t *testing.T, env *testkit.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, env.JS, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// Workers handle different beneficiaries at once but one beneficiary's events
// in the order they were stored, each exactly once.
func TestWorkersKeepEachMembersOrder(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	ctx := context.Background()
	const members, perMember = 12, 15
	publishFills(ctx, t, pub, members, perMember, 1, 0) // one partition: p0
	var (
		mu               sync.Mutex
		seen             = map[string][]int32{}
		inFlight, most   int
		total            int
		keyLeaksMemberID bool
		done             = make(chan struct{})
	)
	runConsumer(t, env, tel, pub, bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "workers", Subjects: []string{"emtm.claims.p0.paid"}, Workers: 4},
		func(ctx context.Context, m *bus.Msg) error {
			var c claimsv1.PharmacyClaim
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				return bus.Permanent(err)
			}
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			if k := m.Header.Get(bus.HeaderOrderKey); k == "" || k == c.MemberId {
				keyLeaksMemberID = true
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond) // a handler's round trips
			mu.Lock()
			defer mu.Unlock()
			inFlight--
			seen[c.MemberId] = append(seen[c.MemberId], c.FillNumber)
			if total++; total == members*perMember {
				close(done)
			}
			return nil
		})
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("not every event was handled within 20s")
	}
	time.Sleep(200 * time.Millisecond) // a redelivery or a double would show here
	mu.Lock()
	defer mu.Unlock()
	if total != members*perMember {
		t.Fatalf("handled %d events, want %d", total, members*perMember)
	}
	for member, fills := range seen {
		for i, f := range fills {
			if f != int32(i) {
				t.Fatalf("%s handled in order %v, want 0..%d", member, fills, perMember-1)
			}
		}
	}
	if most < 2 {
		t.Fatalf("at most %d event in flight: the workers did not run in parallel", most)
	}
	if keyLeaksMemberID {
		t.Fatal("an event's Emtm-Order-Key was missing or was the member id itself")
	}
}

func TestWorkerOf(t *testing.T) {
	t.Parallel()
	if got := bus.WorkerOf("", 8); got != 0 {
		t.Fatalf("empty key went to worker %d, want 0", got)
	}
	used := map[int]bool{}
	for i := 0; i < 100; i++ {
		w := bus.WorkerOf(bus.OrderKey(fmt.Sprintf("M%d", i)), 8)
		if w < 0 || w >= 8 {
			t.Fatalf("worker %d out of 0..7", w)
		}
		if w != bus.WorkerOf(bus.OrderKey(fmt.Sprintf("M%d", i)), 8) {
			t.Fatal("the same key went to two workers")
		}
		used[w] = true
	}
	if len(used) < 6 {
		t.Fatalf("100 members used only %d of 8 workers", len(used))
	}
}

// A transient failure is retried on the spot, so a beneficiary's later events
// wait for it instead of overtaking it (as a redelivery would let them).
func TestTransientFailureKeepsOrder(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	ctx := context.Background()
	var outs []bus.Out
	for i := 0; i < 5; i++ {
		outs = append(outs, bus.Out{Subject: bus.ClaimPaidSubject("p0"), MsgID: fmt.Sprintf("A/%d", i),
			Msg: &claimsv1.PharmacyClaim{ClaimId: fmt.Sprintf("A/%d", i), MemberId: "A", FillNumber: int32(i)}})
	}
	if _, err := pub.Publish(ctx, outs...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int32
	failures := 2
	done := make(chan struct{})
	runConsumer(t, env, tel, pub, bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "in-place", Subjects: []string{"emtm.claims.p0.paid"}, Workers: 4},
		func(ctx context.Context, m *bus.Msg) error {
			var c claimsv1.PharmacyClaim
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				return bus.Permanent(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.FillNumber == 0 && failures > 0 {
				failures--
				return errors.New("the bus is failing over")
			}
			order = append(order, c.FillNumber)
			if len(order) == 5 {
				close(done)
			}
			return nil
		})
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("not every event was handled within 15s")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, f := range order {
		if f != int32(i) {
			t.Fatalf("handled in order %v, want 0..4: the failed event was overtaken", order)
		}
	}
}

// A batch consumer hands a backlog over in batches of several members, never
// two events of one member in a batch, each member's events in stream order,
// each exactly once; a batch's transient failure is retried in place before
// the member's next event, and a permanent one dead-letters only its message.
func TestABatchConsumerHandsABacklogOverInBatchesKeepingEachMembersOrder(t *testing.T) {
	t.Parallel()
	env, tel, pub := setup(t)
	ctx := context.Background()
	const members, perMember = 20, 10
	publishFills(ctx, t, pub, members, perMember, 1, 0) // one partition: p0
	var (
		mu          sync.Mutex
		seen        = map[string][]int32{}
		total       int
		largest     int
		twice       []string
		failedOnce  bool
		done        = make(chan struct{})
		deadLetters int
	)
	spec := bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "batches", Subjects: []string{"emtm.claims.p0.paid"}, BatchSize: 16, MaxDeliver: 1,
		Batch: func(ctx context.Context, batch []bus.Delivery) []error {
			errs := make([]error, len(batch))
			mu.Lock()
			defer mu.Unlock()
			largest = max(largest, len(batch))
			inBatch := map[string]bool{}
			for i, d := range batch {
				var c claimsv1.PharmacyClaim
				if err := proto.Unmarshal(d.Msg.Data, &c); err != nil {
					errs[i] = bus.Permanent(err)
					continue
				}
				if inBatch[c.MemberId] {
					twice = append(twice, c.MemberId)
				}
				inBatch[c.MemberId] = true
				switch {
				case c.MemberId == "M003" && c.FillNumber == 2 && !failedOnce:
					failedOnce = true
					errs[i] = errors.New("redis is restarting")
					continue
				case c.MemberId == "M007" && c.FillNumber == 5:
					errs[i] = bus.Permanent(errors.New("this one can never be stored"))
				default:
					seen[c.MemberId] = append(seen[c.MemberId], c.FillNumber)
				}
				if total++; total == members*perMember {
					close(done)
				}
			}
			return errs
		}}
	runConsumer(t, env, tel, pub, spec, func(context.Context, *bus.Msg) error { return errors.New("the batch handler is used") })
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("not every event was handled within 20s")
	}
	waitIdle(t, env)
	mu.Lock()
	defer mu.Unlock()
	if total != members*perMember {
		t.Fatalf("handled %d events, want %d", total, members*perMember)
	}
	if len(twice) > 0 {
		t.Fatalf("a batch held two events of %v", twice)
	}
	if largest < 2 || largest > 16 {
		t.Fatalf("the largest batch held %d events, want 2..16 from a backlog of %d", largest, members*perMember)
	}
	for member, fills := range seen {
		want := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		if member == "M007" {
			want = []int32{0, 1, 2, 3, 4, 6, 7, 8, 9}
		}
		if fmt.Sprint(fills) != fmt.Sprint(want) {
			t.Fatalf("%s handled as %v, want %v", member, fills, want)
		}
	}
	st, err := env.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadLetters = int(info.State.Msgs)
	if deadLetters != 1 {
		t.Fatalf("%d dead letters, want the one permanent failure", deadLetters)
	}
}

// While one beneficiary's event is retried in place for longer than the ack
// wait, every other event the consumer holds is kept from redelivery: each is
// handled once, whether it waits in a later batch of the same lane, in the
// inbox (it arrived while the batch was being retried), behind another
// failure of its own batch, or, one event at a time, on the same worker.
func TestEventsWaitingBehindARetryInPlaceAreNotRedelivered(t *testing.T) {
	t.Parallel()
	// Members that share A's lane (and A's worker of 4): B's second event
	// waits behind the batch of A's first, and C's first is in the same
	// batch as A's.
	lane := bus.WorkerOf(bus.OrderKey("A"), 4)
	var sameLane []string
	for i := 0; i < 1000 && len(sameLane) < 2; i++ {
		if m := fmt.Sprintf("M%d", i); bus.WorkerOf(bus.OrderKey(m), 4) == lane {
			sameLane = append(sameLane, m)
		}
	}
	b, c := sameLane[0], sameLane[1]
	type event struct {
		member string
		fill   int32
	}
	for _, tc := range []struct {
		name    string
		batch   bool
		first   []event // published before the consumer starts
		then    []event // published once A/0 has failed once
		failing []string
	}{
		{name: "waiting in a later batch", batch: true, first: []event{{"A", 0}, {b, 0}, {b, 1}}, failing: []string{"A/0"}},
		{name: "arrived during the retry", batch: true, first: []event{{"A", 0}}, then: []event{{b, 0}, {b, 1}}, failing: []string{"A/0"}},
		{name: "failed behind another failure", batch: true, first: []event{{"A", 0}, {c, 0}, {b, 0}, {b, 1}}, failing: []string{"A/0", c + "/0"}},
		{name: "one at a time on the same worker", first: []event{{"A", 0}, {b, 0}, {b, 1}, {c, 0}}, failing: []string{"A/0"}},
		{name: "one at a time, arrived during the retry", first: []event{{"A", 0}}, then: []event{{b, 0}, {b, 1}}, failing: []string{"A/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, tel, pub := setup(t)
			ctx := context.Background()
			publish := func(es []event) {
				var outs []bus.Out
				for _, e := range es {
					id := fmt.Sprintf("%s/%d", e.member, e.fill)
					outs = append(outs, bus.Out{Subject: bus.ClaimPaidSubject("p0"), MsgID: id,
						Msg: &claimsv1.PharmacyClaim{ClaimId: id, MemberId: e.member, FillNumber: e.fill}})
				}
				if _, err := pub.Publish(ctx, outs...); err != nil {
					t.Fatal(err)
				}
			}
			publish(tc.first)
			var (
				mu       sync.Mutex
				handled  = map[string]int{}
				started  = time.Now()
				failedA  = make(chan struct{})
				allDone  = make(chan struct{})
				expected = len(tc.first) + len(tc.then)
			)
			// handle stores one event, or fails for a passing reason while
			// "Redis restarts".
			handle := func(data []byte) error {
				var cl claimsv1.PharmacyClaim
				if err := proto.Unmarshal(data, &cl); err != nil {
					return bus.Permanent(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if slices.Contains(tc.failing, cl.ClaimId) && time.Since(started) < 5*time.Second {
					if cl.ClaimId == "A/0" {
						select {
						case <-failedA:
						default:
							close(failedA)
						}
					}
					return errors.New("redis is restarting")
				}
				handled[cl.ClaimId]++
				if len(handled) == expected {
					select {
					case <-allDone:
					default:
						close(allDone)
					}
				}
				return nil
			}
			spec := bus.ConsumerSpec{Stream: bus.StreamClaims, Durable: "kept", Subjects: []string{"emtm.claims.p0.paid"},
				AckWait: 2 * time.Second, RetryInPlace: 10 * time.Second, Workers: 4}
			if tc.batch {
				spec.Batch = func(ctx context.Context, batch []bus.Delivery) []error {
					errs := make([]error, len(batch))
					for i, d := range batch {
						errs[i] = handle(d.Msg.Data)
					}
					return errs
				}
			}
			runConsumer(t, env, tel, pub, spec, func(_ context.Context, m *bus.Msg) error { return handle(m.Data) })
			select {
			case <-failedA:
			case <-time.After(10 * time.Second):
				t.Fatal("A/0 was not handled within 10s")
			}
			if len(tc.then) > 0 {
				publish(tc.then)
			}
			select {
			case <-allDone:
			case <-time.After(20 * time.Second):
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("not every event was handled within 20s: %v", handled)
			}
			time.Sleep(3 * time.Second) // a redelivery of a waiting event would come within an ack wait
			mu.Lock()
			defer mu.Unlock()
			for id, n := range handled {
				if n != 1 {
					t.Errorf("%s handled %d times, want once", id, n)
				}
			}
			if len(handled) != expected {
				t.Errorf("handled %v, want %d events once each", handled, expected)
			}
		})
	}
}
