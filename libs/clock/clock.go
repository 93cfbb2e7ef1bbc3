// Package clock says what "today" is for rules that compare dates (a task's
// due date, an outreach period's end). In production it is the wall clock in
// the plan's time zone. When history is replayed (a backfill, the sample
// population) it is the event clock: the latest date of service the service
// has seen, which never goes back, so that two-year-old data is scheduled as
// it would have been, not all expired at once.
package clock

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/civil"
)

// Clock tells today's date and learns of event dates.
type Clock interface {
	Today(ctx context.Context) (civil.Date, error)
	// Saw records the date of an event (the event clock moves forward; the wall clock ignores it).
	Saw(ctx context.Context, d civil.Date) error
	Name() string
}

// Wall is the wall clock in a time zone.
type Wall struct{ Loc *time.Location }

// Today implements Clock.
func (w Wall) Today(context.Context) (civil.Date, error) { return civil.Today(w.Loc), nil }

// Saw implements Clock.
func (Wall) Saw(context.Context, civil.Date) error { return nil }

// Name implements Clock.
func (w Wall) Name() string { return "wall (" + w.Loc.String() + ")" }

// Events is the event clock, kept in a Redis key.
type Events struct {
	RDB redis.UniversalClient
	Key string
}

// advance sets the key to the later of its value and the date (YYYYMMDD as a number).
var advance = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local d = tonumber(ARGV[1])
if d > cur then redis.call('SET', KEYS[1], ARGV[1]) return d end
return cur
`)

// Today implements Clock: the latest date seen (the zero date before any).
func (e Events) Today(ctx context.Context) (civil.Date, error) {
	n, err := e.RDB.Get(ctx, e.Key).Int()
	if err == redis.Nil {
		return civil.Date{}, nil
	}
	if err != nil {
		return civil.Date{}, fmt.Errorf("event clock: %w", err)
	}
	return civil.Date{Year: n / 10000, Month: time.Month(n / 100 % 100), Day: n % 100}, nil
}

// Saw implements Clock.
func (e Events) Saw(ctx context.Context, d civil.Date) error {
	if !d.Valid() {
		return nil
	}
	n := d.Year*10000 + int(d.Month)*100 + d.Day
	return advance.Run(ctx, e.RDB, []string{e.Key}, n).Err()
}

// Name implements Clock.
func (Events) Name() string { return "events (the latest date of service seen)" }

// New returns the clock named by kind: "wall" or "events".
func New(kind string, loc *time.Location, rdb redis.UniversalClient, key string) (Clock, error) {
	switch kind {
	case "wall":
		return Wall{Loc: loc}, nil
	case "events":
		return Events{RDB: rdb, Key: key}, nil
	}
	return nil, fmt.Errorf("clock %q: use wall or events", kind)
}
