// Package membermonths counts member months, the unit of the model's
// prospective payment (PMPM rate x members enrolled that month; docs/domain.md
// section 1, CMS Innovation Center Part D Enhanced MTM model, 2017).
package membermonths

import (
	"time"

	"github.com/emtm/emtm/libs/civil"
)

// Rules: when does an enrollment span make a month a member month.
const (
	// FirstDay: enrolled on the month's first day. Part D enrollment takes
	// effect on the first of a month and CMS pays a month for a member enrolled
	// then (a member who dies or leaves mid-month still counts for that month).
	FirstDay = "first_day"
	// AnyDay: enrolled on any day of the month.
	AnyDay = "any_day"
)

// Span is an enrollment span of a member in a plan; a zero End is open.
type Span struct {
	ID      string
	Plan    string
	Start   civil.Date
	End     civil.Date
	EventID string // the enrollment event that last set the span
}

// Month is a member month: the plan and the month's first day, with the span that makes it one.
type Month struct {
	Plan   string
	Month  civil.Date
	SpanID string
	Source string // the span's event id
}

// Key identifies a member month of one member.
func (m Month) Key() string { return m.Plan + "|" + m.Month.String()[:7] }

func first(d civil.Date) civil.Date { return civil.Date{Year: d.Year, Month: d.Month, Day: 1} }

func lastDay(m civil.Date) civil.Date {
	return civil.Of(time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC))
}

func next(m civil.Date) civil.Date {
	return civil.Of(time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, time.UTC))
}

// maxMonths bounds one span's months (a century).
const maxMonths = 1200

// Of returns the member months the spans make, through the month of through
// (inclusive), under each plan's rule (rule(plan) returns "" for a plan that
// is not paid: its spans make no member months). Where two spans of the same
// plan cover a month, the month counts once, for the span that starts first.
func Of(spans []Span, through civil.Date, rule func(plan string) string) map[string]Month {
	out := map[string]Month{}
	last := first(through)
	for _, s := range spans {
		r := rule(s.Plan)
		if r == "" || !s.Start.Valid() || (!s.End.IsZero() && s.End.Before(s.Start)) {
			continue
		}
		m := first(s.Start)
		for i := 0; i < maxMonths && !m.After(last); i, m = i+1, next(m) {
			if !s.End.IsZero() && s.End.Before(m) {
				break
			}
			in := false
			switch r {
			case FirstDay:
				in = !s.Start.After(m) // the span started on or before the first; it has not ended before it
			case AnyDay:
				in = !s.Start.After(lastDay(m))
			}
			if !in {
				continue
			}
			mm := Month{Plan: s.Plan, Month: m, SpanID: s.ID, Source: s.EventID}
			if prev, ok := out[mm.Key()]; !ok || s.Start.Before(spanStart(spans, prev.SpanID)) {
				out[mm.Key()] = mm
			}
		}
	}
	return out
}

func spanStart(spans []Span, id string) civil.Date {
	for _, s := range spans {
		if s.ID == id {
			return s.Start
		}
	}
	return civil.Date{}
}
