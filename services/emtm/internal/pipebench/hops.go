package pipebench

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
)

// busHops times the least bus work the pipeline's shape asks of a claim, with
// no service doing anything else: n size-byte messages published
// asynchronously to a scratch file-backed stream (the pharmacy's raw
// submission); a durable pull consumer that republishes each to a second
// stream with a message id (ingestion's canonical claim) and acknowledges it
// once that publish is stored; and a durable pull consumer of the second
// stream that acknowledges each (risk-scoring). Two stores, two deliveries,
// two acknowledgements a claim, each client on its own connection, as the
// services are. It is the ceiling of the pipeline on this server and machine:
// what the whole pipeline could reach if validation, Redis, scoring and what
// an assessment causes cost nothing. Both streams are removed afterwards.
func busHops(ctx context.Context, url string, n, size int, progress io.Writer) (float64, error) {
	conns := make([]*nats.Conn, 3)
	jss := make([]jetstream.JetStream, 3)
	for i := range conns {
		nc, err := nats.Connect(url, nats.Name(fmt.Sprintf("emtm-bench-hops-%d", i)))
		if err != nil {
			return 0, err
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
		if err != nil {
			return 0, err
		}
		conns[i], jss[i] = nc, js
	}
	pub, mid, last := jss[0], jss[1], jss[2]
	streams := []jetstream.StreamConfig{
		{Name: "BENCH_HOP_IN", Subjects: []string{"bench.hop.in.>"}, Storage: jetstream.FileStorage},
		{Name: "BENCH_HOP_OUT", Subjects: []string{"bench.hop.out.>"}, Storage: jetstream.FileStorage},
	}
	for _, cfg := range streams {
		if _, err := pub.CreateOrUpdateStream(ctx, cfg); err != nil {
			return 0, err
		}
		defer func() { _ = pub.DeleteStream(context.WithoutCancel(ctx), cfg.Name) }()
	}
	consumer := func(js jetstream.JetStream, stream string) (jetstream.MessagesContext, error) {
		c, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "hops", AckPolicy: jetstream.AckExplicitPolicy,
			MaxAckPending: 4096, AckWait: 30 * time.Second})
		if err != nil {
			return nil, err
		}
		return c.Messages(jetstream.PullMaxMessages(1024))
	}
	in, err := consumer(mid, "BENCH_HOP_IN")
	if err != nil {
		return 0, err
	}
	defer in.Stop()
	out, err := consumer(last, "BENCH_HOP_OUT")
	if err != nil {
		return 0, err
	}
	defer out.Stop()

	failed := make(chan error, 3)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	// The middle hop: republish, acknowledge the input once the copy is stored.
	type pending struct {
		m jetstream.Msg
		f jetstream.PubAckFuture
	}
	inflight := make(chan pending, 4096)
	go func() {
		defer close(inflight)
		for i := 0; i < n; i++ {
			m, err := in.Next()
			if err != nil {
				fail(fmt.Errorf("middle hop: %w", err))
				return
			}
			f, err := mid.PublishAsync("bench.hop.out."+m.Subject()[len("bench.hop.in."):], m.Data(), jetstream.WithMsgID("hop-"+m.Headers().Get(jetstream.MsgIDHeader)), stall)
			if err != nil {
				fail(fmt.Errorf("middle hop: %w", err))
				return
			}
			inflight <- pending{m, f}
		}
	}()
	go func() {
		for p := range inflight {
			select {
			case <-p.f.Ok():
				_ = p.m.Ack()
			case err := <-p.f.Err():
				fail(fmt.Errorf("middle hop: %w", err)) // and go on draining, so that the reader never blocks
			}
		}
	}()
	// The last hop: acknowledge.
	var delivered atomic.Int64
	finished := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			m, err := out.Next()
			if err != nil {
				fail(fmt.Errorf("last hop: %w", err))
				return
			}
			_ = m.Ack()
			delivered.Add(1)
		}
		close(finished)
	}()

	bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("bus hops"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(200*time.Millisecond))
	payload := make([]byte, size)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := pub.PublishAsync(fmt.Sprintf("bench.hop.in.p%d", i%4), payload, jetstream.WithMsgID(fmt.Sprintf("%d", i)), stall); err != nil {
			return 0, err
		}
		if i%1000 == 0 {
			_ = bar.Set64(delivered.Load())
		}
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-finished:
			secs := time.Since(start).Seconds()
			_ = bar.Finish()
			fmt.Fprintln(progress)
			return secs, nil
		case err := <-failed:
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
			_ = bar.Set64(delivered.Load())
		}
	}
}
