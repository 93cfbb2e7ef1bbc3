package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/clock"
	"github.com/emtm/emtm/libs/testkit"
)

func TestEventClockOnlyMovesForward(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	c, err := clock.New("events", time.UTC, rdb, "test:clock")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Today(ctx); !d.IsZero() {
		t.Fatalf("a new event clock reads %s", d)
	}
	for _, d := range []civil.Date{{Year: 2022, Month: 2, Day: 20}, {Year: 2021, Month: 5, Day: 1}, {}} {
		if err := c.Saw(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := c.Today(ctx); d.String() != "2022-02-20" {
		t.Fatalf("event clock %s, want 2022-02-20 (it never goes back)", d)
	}
	if _, err := clock.New("sundial", time.UTC, rdb, "k"); err == nil {
		t.Fatal("an unknown clock was accepted")
	}
	w, _ := clock.New("wall", time.UTC, nil, "")
	if d, _ := w.Today(ctx); d != civil.Today(time.UTC) {
		t.Fatalf("wall clock %s", d)
	}
}
