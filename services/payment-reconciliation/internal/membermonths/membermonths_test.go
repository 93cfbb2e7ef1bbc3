package membermonths

import (
	"sort"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func day(s string) civil.Date {
	if s == "" {
		return civil.Date{}
	}
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func keys(m map[string]Month) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestMemberMonths(t *testing.T) {
	paid := func(rule string) func(string) string {
		return func(plan string) string {
			if plan == "S9925-001" {
				return rule
			}
			return ""
		}
	}
	for _, tt := range []struct {
		name    string
		rule    string
		spans   []Span
		through string
		want    string
	}{
		{"whole months", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-01-01"), End: day("2024-03-31")}}, "2024-12-31",
			"S9925-001|2024-01 S9925-001|2024-02 S9925-001|2024-03"},
		{"a mid-month start counts from the next month", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-01-15"), End: day("2024-03-31")}}, "2024-12-31",
			"S9925-001|2024-02 S9925-001|2024-03"},
		{"any_day counts the month of a mid-month start", AnyDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-01-15"), End: day("2024-03-31")}}, "2024-12-31",
			"S9925-001|2024-01 S9925-001|2024-02 S9925-001|2024-03"},
		{"death on the 10th: the month still counts", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-01-01"), End: day("2024-02-10")}}, "2024-12-31",
			"S9925-001|2024-01 S9925-001|2024-02"},
		{"an open span runs to the clock", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-11-01")}}, "2025-01-05",
			"S9925-001|2024-11 S9925-001|2024-12 S9925-001|2025-01"},
		{"overlapping spans count a month once", FirstDay, []Span{
			{ID: "a", Plan: "S9925-001", Start: day("2024-01-01"), End: day("2024-02-29")},
			{ID: "b", Plan: "S9925-001", Start: day("2024-02-01"), End: day("2024-03-31")}}, "2024-12-31",
			"S9925-001|2024-01 S9925-001|2024-02 S9925-001|2024-03"},
		{"an unpaid plan makes no months", FirstDay, []Span{{ID: "a", Plan: "S1111-001", Start: day("2024-01-01")}}, "2024-12-31", ""},
		{"an end before the start makes none", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2024-05-01"), End: day("2024-01-01")}}, "2024-12-31", ""},
		{"a span after the clock makes none yet", FirstDay, []Span{{ID: "a", Plan: "S9925-001", Start: day("2025-02-01")}}, "2025-01-31", ""},
	} {
		if got := keys(Of(tt.spans, day(tt.through), paid(tt.rule))); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	// The month names the span that starts first.
	m := Of([]Span{{ID: "b", Plan: "S9925-001", Start: day("2024-02-01"), EventID: "e2"}, {ID: "a", Plan: "S9925-001", Start: day("2024-01-01"), EventID: "e1"}},
		day("2024-02-01"), paid(FirstDay))
	if m["S9925-001|2024-02"].SpanID != "a" || m["S9925-001|2024-02"].Source != "e1" {
		t.Errorf("month source %+v", m["S9925-001|2024-02"])
	}
}
