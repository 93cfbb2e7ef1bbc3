package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Backlog is the work not yet done by the consumers of emtm's streams.
type Backlog struct {
	Pending    uint64 // messages not yet delivered
	AckPending uint64 // delivered, not yet acknowledged
	Consumers  int
}

// Idle reports whether nothing is pending.
func (b Backlog) Idle() bool { return b.Pending == 0 && b.AckPending == 0 }

// ReadBacklog sums pending and unacknowledged messages over every consumer of
// every stream in Streams, but the work queue (its messages wait for people).
func ReadBacklog(ctx context.Context, js jetstream.JetStream) (Backlog, error) {
	var b Backlog
	for _, s := range Streams {
		if s.WorkQueue {
			continue
		}
		st, err := js.Stream(ctx, s.Name)
		if err != nil {
			return b, fmt.Errorf("stream %s: %w", s.Name, err)
		}
		lister := st.ListConsumers(ctx)
		for ci := range lister.Info() {
			b.Pending += ci.NumPending
			b.AckPending += uint64(ci.NumAckPending)
			b.Consumers++
		}
		if err := lister.Err(); err != nil {
			return b, fmt.Errorf("consumers of %s: %w", s.Name, err)
		}
	}
	return b, nil
}

// WaitIdle polls until the backlog has been empty on two polls in a row, or ctx ends.
// Handlers publish their outputs before they acknowledge their input, so an empty
// backlog means every effect of what was accepted has been stored.
func WaitIdle(ctx context.Context, js jetstream.JetStream, poll time.Duration) error {
	quiet := 0
	for {
		b, err := ReadBacklog(ctx, js)
		if err != nil {
			return err
		}
		if b.Idle() {
			quiet++
			if quiet >= 2 {
				return nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pipeline not idle (pending %d, unacknowledged %d): %w", b.Pending, b.AckPending, ctx.Err())
		case <-time.After(poll):
		}
	}
}
