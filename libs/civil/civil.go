// Package civil is a calendar date without time of day or zone, as on claims,
// enrollment spans and statements.
package civil

import (
	"fmt"
	"strconv"
	"time"

	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

// Date is a calendar date. The zero Date is "unset".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Of returns the calendar date of t in t's location.
func Of(t time.Time) Date { y, m, d := t.Date(); return Date{y, m, d} }

// OfMicros is the calendar date of an instant given in microseconds since
// the Unix epoch, in the zone it was written in: an IANA name, an offset
// such as -04:00, or UTC (also for "", Z and a zone that cannot be read).
// FHIR dates and dateTimes come so from Google's FHIR library.
func OfMicros(us int64, zone string) Date {
	loc := time.UTC
	if zone != "" && zone != "UTC" && zone != "Z" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		} else if t, err := time.Parse("-07:00", zone); err == nil {
			_, off := t.Zone()
			loc = time.FixedZone(zone, off)
		}
	}
	return Of(time.UnixMicro(us).In(loc))
}

// Today returns today's date in loc.
func Today(loc *time.Location) Date { return Of(time.Now().In(loc)) }

// Parse reads "YYYY-MM-DD".
func Parse(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	d := Of(t)
	if !d.Valid() {
		return Date{}, fmt.Errorf("date %q: the year must be 0001..9999", s)
	}
	return d, nil
}

// FromProto converts; a nil message is the zero Date.
func FromProto(p *typesv1.Date) Date {
	if p == nil {
		return Date{}
	}
	return Date{int(p.Year), time.Month(p.Month), int(p.Day)}
}

// Proto converts to the wire type (nil for the zero Date).
func (d Date) Proto() *typesv1.Date {
	if d.IsZero() {
		return nil
	}
	return &typesv1.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d names a real calendar day.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return false
	}
	return Of(d.time()).Day == d.Day
}

func (d Date) time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String is "YYYY-MM-DD".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// AddDays returns d plus n days.
func (d Date) AddDays(n int) Date { return Of(d.time().AddDate(0, 0, n)) }

// DaysSince returns the number of days from e to d (negative when d is earlier).
func (d Date) DaysSince(e Date) int { return int(d.time().Sub(e.time()).Hours() / 24) }

// Before, After and Compare order dates.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }
func (d Date) After(e Date) bool  { return d.Compare(e) > 0 }
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmp(d.Year, e.Year)
	case d.Month != e.Month:
		return cmp(int(d.Month), int(e.Month))
	default:
		return cmp(d.Day, e.Day)
	}
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// YearsOld returns the age in whole years on date on of someone born on d.
func (d Date) YearsOld(on Date) int {
	age := on.Year - d.Year
	if on.Month < d.Month || (on.Month == d.Month && on.Day < d.Day) {
		age--
	}
	return age
}

// YMD is the date as the number YYYYMMDD (0 for the zero date): a score that
// orders dates in a Redis sorted set, and a compact stored form.
func (d Date) YMD() int {
	if d.IsZero() {
		return 0
	}
	return d.Year*10000 + int(d.Month)*100 + d.Day
}

// FromYMD reverses YMD; anything that is not a number YYYYMMDD is the zero date.
func FromYMD(s string) Date {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return Date{}
	}
	return Date{Year: n / 10000, Month: time.Month(n / 100 % 100), Day: n % 100}
}
