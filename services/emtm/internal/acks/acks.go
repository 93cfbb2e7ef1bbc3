// Package acks keeps a window of asynchronous JetStream publishes: at most a
// given number await their acknowledgement, and a failed one stops the
// publisher at once.
package acks

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Window publishes asynchronously with at most Size acknowledgements awaited.
type Window struct {
	JS   jetstream.JetStream
	Size int
	// Acked, when set, is called once for each acknowledgement received.
	Acked   func()
	pending []jetstream.PubAckFuture
}

// Publish sends m and, when Size publishes are awaited, waits for the oldest.
func (w *Window) Publish(ctx context.Context, m *nats.Msg) error {
	f, err := w.JS.PublishMsgAsync(m)
	if err != nil {
		return err
	}
	w.pending = append(w.pending, f)
	return w.await(ctx, max(w.Size, 1))
}

// Flush waits for every acknowledgement awaited.
func (w *Window) Flush(ctx context.Context) error { return w.await(ctx, 1) }

// await waits until fewer than limit are awaited.
func (w *Window) await(ctx context.Context, limit int) error {
	for len(w.pending) >= limit && len(w.pending) > 0 {
		select {
		case <-w.pending[0].Ok():
		case err := <-w.pending[0].Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		w.pending = w.pending[1:]
		if w.Acked != nil {
			w.Acked()
		}
	}
	return nil
}
