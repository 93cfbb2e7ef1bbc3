package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func day(s string) civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// specs renders Recurring as "KIND/period@scheduled>due:pPRIO" in order.
func specs(p Plan, m Membership, today string) string {
	var out []string
	for _, s := range p.Recurring(m, civil.Date{}, day(today)) {
		out = append(out, fmt.Sprintf("%s/%s@%s>%s:p%d", s.Kind, s.Period, s.ScheduledOn, s.Due, s.Priority))
	}
	return strings.Join(out, " ")
}

func tiers(points ...string) []TierPoint {
	var out []TierPoint
	for _, p := range points {
		on, tier, _ := strings.Cut(p, " ")
		out = append(out, TierPoint{On: day(on), Tier: tier})
	}
	return out
}

func edited(t *testing.T, edit func(string) string) Plan {
	t.Helper()
	text := SampleYAML()
	if edit != nil {
		text = edit(text)
	}
	ps, err := Parse("program.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return ps.For("S9925", "001")
}

func TestRecurringServicesFollowTheProgramWhateverTheAssessmentsDo(t *testing.T) {
	stay := edited(t, nil)
	leave := edited(t, func(s string) string { return strings.Replace(s, "on_downgrade: stay", "on_downgrade: leave", 1) })
	monthly := edited(t, func(s string) string {
		return strings.Replace(s, "{kind: TMR, every: quarter, priority: 70}", "{kind: TMR, every: month, priority: 70}", 1)
	})
	cases := []struct {
		name  string
		plan  Plan
		m     Membership
		today string
		want  string
	}{
		{"HIGH once on 2024-01-15, the clock at 2025-03-31: every year's CMR, every quarter's TMR (42 CFR 423.153(d))", stay,
			Membership{Tiers: tiers("2024-01-15 HIGH")}, "2025-03-31",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-Q1@2024-01-15>2024-03-31:p70 TMR/2024-Q2@2024-04-01>2024-06-30:p70 " +
				"TMR/2024-Q3@2024-07-01>2024-09-30:p70 TMR/2024-Q4@2024-10-01>2024-12-31:p70 " +
				"CMR/2025@2025-01-01>2025-03-02:p90 TMR/2025-Q1@2025-01-01>2025-03-31:p70"},
		{"death on 2024-08-10 stops everything after it", stay,
			Membership{Tiers: tiers("2024-01-15 HIGH"), Spans: []EnrollmentSpan{{Start: day("2023-01-01"), End: day("2024-08-10"), Reason: "deceased"}}}, "2025-03-31",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-Q1@2024-01-15>2024-03-31:p70 TMR/2024-Q2@2024-04-01>2024-06-30:p70 TMR/2024-Q3@2024-07-01>2024-09-30:p70"},
		{"stay: a downgrade keeps the member in the program to the year's end, then the latest tier decides", stay,
			Membership{Tiers: tiers("2024-01-15 HIGH", "2024-03-20 LOW")}, "2025-06-30",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-Q1@2024-01-15>2024-03-31:p70 TMR/2024-Q2@2024-04-01>2024-06-30:p70 " +
				"TMR/2024-Q3@2024-07-01>2024-09-30:p70 TMR/2024-Q4@2024-10-01>2024-12-31:p70"},
		{"leave: a downgrade ends the program's services at once", leave,
			Membership{Tiers: tiers("2024-01-15 HIGH", "2024-03-20 LOW")}, "2025-06-30",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-Q1@2024-01-15>2024-03-31:p70"},
		{"an upgrade adds the CMR from its day; later quarters take the higher tier's priority", stay,
			Membership{Tiers: tiers("2024-02-10 MODERATE", "2024-05-01 HIGH")}, "2024-12-31",
			"TMR/2024-Q1@2024-02-10>2024-03-31:p50 TMR/2024-Q2@2024-04-01>2024-06-30:p50 CMR/2024@2024-05-01>2024-06-30:p90 " +
				"TMR/2024-Q3@2024-07-01>2024-09-30:p70 TMR/2024-Q4@2024-10-01>2024-12-31:p70"},
		{"a renewed year under stay: HIGH carried into 2025 keeps HIGH's services though LOW in February", stay,
			Membership{Tiers: tiers("2024-11-05 HIGH", "2025-02-01 LOW")}, "2025-07-01",
			"CMR/2024@2024-11-05>2025-01-04:p90 TMR/2024-Q4@2024-11-05>2024-12-31:p70 CMR/2025@2025-01-01>2025-03-02:p90 " +
				"TMR/2025-Q1@2025-01-01>2025-03-31:p70 TMR/2025-Q2@2025-04-01>2025-06-30:p70 TMR/2025-Q3@2025-07-01>2025-09-30:p70"},
		{"monthly TMRs", monthly,
			Membership{Tiers: tiers("2024-01-15 HIGH")}, "2024-03-05",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-01@2024-01-15>2024-01-31:p70 TMR/2024-02@2024-02-01>2024-02-29:p70 TMR/2024-03@2024-03-01>2024-03-31:p70"},
		{"days before the first known span count as enrolled (the feed may start after the claims)", stay,
			Membership{Tiers: tiers("2024-02-10 HIGH"), Spans: []EnrollmentSpan{{Start: day("2024-03-01")}}}, "2024-04-15",
			"CMR/2024@2024-02-10>2024-04-10:p90 TMR/2024-Q1@2024-02-10>2024-03-31:p70 TMR/2024-Q2@2024-04-01>2024-06-30:p70"},
		{"a gap between spans schedules nothing; the program resumes with the next span", stay,
			Membership{Tiers: tiers("2024-01-15 HIGH"), Spans: []EnrollmentSpan{{Start: day("2023-01-01"), End: day("2024-03-31"), Reason: "disenrolled"}, {Start: day("2024-08-01")}}}, "2024-10-15",
			"CMR/2024@2024-01-15>2024-03-15:p90 TMR/2024-Q1@2024-01-15>2024-03-31:p70 TMR/2024-Q3@2024-08-01>2024-09-30:p70 TMR/2024-Q4@2024-10-01>2024-12-31:p70"},
		{"a LOW member is not in the program", stay, Membership{Tiers: tiers("2024-01-15 LOW")}, "2025-03-31", ""},
		{"no assessment, no program", stay, Membership{}, "2025-03-31", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := specs(c.plan, c.m, c.today); got != c.want {
				t.Fatalf("got\n%s\nwant\n%s", strings.ReplaceAll(got, " ", "\n"), strings.ReplaceAll(c.want, " ", "\n"))
			}
		})
	}
}

func TestRecurringIsTheSameWhateverTheOrderOfTheTierHistoryAndFrom(t *testing.T) {
	p := edited(t, nil)
	a := Membership{Tiers: tiers("2024-02-10 MODERATE", "2024-05-01 HIGH", "2024-09-09 LOW")}
	b := Membership{Tiers: tiers("2024-09-09 LOW", "2024-05-01 HIGH", "2024-02-10 MODERATE")}
	if specs(p, a, "2025-02-01") != specs(p, b, "2025-02-01") {
		t.Fatal("the history's order changed the outcome")
	}
	later := p.Recurring(a, day("2024-07-01"), day("2025-02-01"))
	if len(later) != 2 || later[0].Period != "2024-Q3" || later[1].Period != "2024-Q4" {
		t.Fatalf("from 2024-07-01: %+v (the CMR and TMRs before it are not repeated)", later)
	}
}

func TestNextRecurringIsTheNextPeriodStartThatAddsATask(t *testing.T) {
	p := edited(t, nil)
	cases := []struct {
		m     Membership
		today string
		want  string
	}{
		{Membership{Tiers: tiers("2024-01-15 HIGH")}, "2024-05-20", "2024-07-01"},
		{Membership{Tiers: tiers("2024-01-15 HIGH")}, "2024-12-31", "2025-01-01"},
		{Membership{Tiers: tiers("2024-01-15 HIGH", "2024-03-20 LOW")}, "2024-11-15", ""}, // leaves at the year's end
		{Membership{Tiers: tiers("2024-01-15 LOW")}, "2024-05-20", ""},
		{Membership{Tiers: tiers("2024-01-15 HIGH"), Spans: []EnrollmentSpan{{Start: day("2023-01-01"), End: day("2024-08-10"), Reason: "deceased"}}}, "2024-08-20", ""},
	}
	for _, c := range cases {
		next, ok := p.NextRecurring(c.m, day(c.today))
		got := ""
		if ok {
			got = next.String()
		}
		if got != c.want {
			t.Errorf("%+v on %s: next %q, want %q", c.m.Tiers, c.today, got, c.want)
		}
	}
}

func TestLeavesFindsTheEndOfEnrollmentBeforeADate(t *testing.T) {
	m := Membership{Spans: []EnrollmentSpan{{Start: day("2023-01-01"), End: day("2024-08-10"), Reason: "deceased"}}}
	if end, why, ok := m.Leaves(day("2024-07-01"), day("2024-09-30")); !ok || end.String() != "2024-08-10" || why != "deceased" {
		t.Fatalf("%s %s %v", end, why, ok)
	}
	if _, _, ok := m.Leaves(day("2024-01-01"), day("2024-03-31")); ok {
		t.Fatal("an end after the window")
	}
	// Re-enrolled the next day: no gap, no end.
	m.Spans = append(m.Spans, EnrollmentSpan{Start: day("2024-08-11")})
	if _, _, ok := m.Leaves(day("2024-07-01"), day("2024-09-30")); ok {
		t.Fatal("a continued enrollment ended")
	}
}

func TestOnDowngradeIsStayOrLeave(t *testing.T) {
	if p := edited(t, func(s string) string { return strings.Replace(s, "  on_downgrade: stay\n", "", 1) }); p.OnDowngrade != Stay {
		t.Fatalf("default %q, want stay", p.OnDowngrade)
	}
	_, err := Parse("p.yaml", []byte(strings.Replace(SampleYAML(), "on_downgrade: stay", "on_downgrade: sometimes", 1)))
	if err == nil || !strings.Contains(err.Error(), "on_downgrade") {
		t.Fatalf("%v", err)
	}
}
