package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Replay reads a stream from its first message to the last one present when
// it starts, in order, through an ordered consumer, handing each to h. It is
// how a service rebuilds its Redis state from the record (see also
// Subscription.Replay, which replays what one durable receives).
func Replay(ctx context.Context, js jetstream.JetStream, stream string, h Handler) (int64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	last := info.State.LastSeq
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return n, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return n, err
			}
			msg := &Msg{Subject: m.Subject(), Data: m.Data(), Header: m.Headers(), Stream: stream,
				StreamSeq: md.Sequence.Stream, NumDelivered: md.NumDelivered}
			if err := h(ctx, msg); err != nil {
				return n, err
			}
			n++
			if md.Sequence.Stream >= last {
				return n, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return n, err
		}
		if got == 0 {
			return n, fmt.Errorf("stream %s ended at %d messages before sequence %d", stream, n, last)
		}
	}
}
