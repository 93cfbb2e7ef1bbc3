package clock

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/config"
)

// Flags are the clock settings of a service that compares dates and sweeps:
// -clock, -time-zone and -sweep-interval.
type Flags struct {
	Kind          string // wall or events
	TimeZone      string
	Loc           *time.Location
	SweepInterval time.Duration
}

// RegisterFlags defines the clock settings on s; today says what "today" means
// to the service and sweep what its periodic sweep does.
func RegisterFlags(s *config.Set, today string, defaultSweep time.Duration, sweep string) *Flags {
	f := &Flags{}
	kind := s.String("clock", "wall", "what "+today+" is: wall (the calendar, production) or events (the latest date seen in events: replays and the sample)")
	tz := s.String("time-zone", "America/Chicago", "the plan's time zone for the wall clock (IANA name)")
	iv := s.Duration("sweep-interval", defaultSweep, "how often "+sweep)
	s.AfterParse(func() error {
		f.Kind, f.TimeZone, f.SweepInterval = *kind, *tz, *iv
		var err error
		if f.Loc, err = time.LoadLocation(f.TimeZone); err != nil {
			return fmt.Errorf("time-zone: %w", err)
		}
		if f.Kind != "wall" && f.Kind != "events" {
			return fmt.Errorf("clock: %q must be wall or events", f.Kind)
		}
		if f.SweepInterval <= 0 {
			return fmt.Errorf("sweep-interval must be positive")
		}
		return nil
	})
	return f
}

// New returns the clock the flags name; an event clock keeps its date in key.
func (f *Flags) New(rdb redis.UniversalClient, key string) (Clock, error) {
	return New(f.Kind, f.Loc, rdb, key)
}
