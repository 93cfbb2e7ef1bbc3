package testkit

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// StreamMessages returns every message stored on a stream, in order.
func StreamMessages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("testkit: stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("testkit: stream %s: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("testkit: stream %s message %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Decode unmarshals every message of a stream into a new T.
func Decode[T proto.Message](t testing.TB, js jetstream.JetStream, stream string, newMsg func() T) []T {
	t.Helper()
	var out []T
	for _, m := range StreamMessages(t, js, stream) {
		v := newMsg()
		if err := proto.Unmarshal(m.Data, v); err != nil {
			t.Fatalf("testkit: stream %s message %d: %v", stream, m.Sequence, err)
		}
		out = append(out, v)
	}
	return out
}
