package pipebench

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emtm/emtm/libs/testkit"
)

// The bus-hops ceiling moves every message through both hops and leaves no
// scratch stream behind.
func TestBusHopsMovesEveryMessageThroughBothHopsAndCleansUp(t *testing.T) {
	env := testkit.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secs, err := busHops(ctx, env.NATSURL, 3000, 200, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if secs <= 0 {
		t.Fatalf("%v seconds", secs)
	}
	for _, name := range []string{"BENCH_HOP_IN", "BENCH_HOP_OUT"} {
		if _, err := env.JS.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s: %v, want it removed", name, err)
		}
	}
}
