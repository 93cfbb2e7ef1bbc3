package policy

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func TestSampleAndPeriods(t *testing.T) {
	ps, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	p := ps.For("S9925", "001")
	name, start := p.PeriodOf(civil.Date{Year: 2024, Month: 2, Day: 15}) // a Thursday
	if name != "2024-W07" || start.String() != "2024-02-12" {
		t.Fatalf("week %s from %s", name, start)
	}
	if name, _ := p.PeriodOf(civil.Date{Year: 2021, Month: 1, Day: 2}); name != "2020-W53" {
		t.Fatalf("ISO week of 2021-01-02 is %s", name)
	}
	for _, tt := range []struct{ on, next string }{
		{"2024-02-15", "2024-02-19"}, {"2024-02-12", "2024-02-19"}, {"2024-02-18", "2024-02-19"}, {"2020-12-31", "2021-01-04"},
	} {
		d, _ := civil.Parse(tt.on)
		if got := p.NextPeriod(d).String(); got != tt.next {
			t.Errorf("week after %s starts %s, want %s", tt.on, got, tt.next)
		}
	}
	p.Period = "month"
	if name, start := p.PeriodOf(civil.Date{Year: 2024, Month: 2, Day: 15}); name != "2024-02" || start.Day != 1 {
		t.Fatalf("month %s from %s", name, start)
	}
	for _, tt := range []struct{ on, next string }{{"2024-02-15", "2024-03-01"}, {"2024-12-01", "2025-01-01"}} {
		d, _ := civil.Parse(tt.on)
		if got := p.NextPeriod(d).String(); got != tt.next {
			t.Errorf("month after %s starts %s, want %s", tt.on, got, tt.next)
		}
	}
}

func TestPolicyErrorsNameLineAndField(t *testing.T) {
	base := SampleYAML()
	for _, tt := range []struct{ from, to, want string }{
		{"period: week", "period: fortnight", ":11: default.period"},
		{"max_communications_per_period: 1", "max_communications_per_period: 0", "default.max_communications_per_period"},
		{"repeat_window_days: 180", "repeat_window_days: -1", "default.repeat_window_days"},
		{"no_response_after_days: 30", "no_response_after_days: 30\n  escalate: true", "field escalate not found"},
	} {
		_, err := Parse("outreach.yaml", []byte(strings.Replace(base, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.to, err, tt.want)
		}
	}
}

// FuzzParse: any bytes give a policy or an error naming the file, never a
// panic; an accepted policy has periods that move forward.
func FuzzParse(f *testing.F) {
	f.Add([]byte(SampleYAML()))
	f.Add([]byte(strings.Replace(SampleYAML(), "period: week", "period: month", 1)))
	f.Add([]byte("version: 1\ndefault: {period: week}\n"))
	f.Add([]byte("version: 1\ndefault:\n  letterhead: x\nplans: {S9925-001: {period: [1]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		p := ps.For("S9925", "001")
		d := civil.Date{Year: 2024, Month: 12, Day: 30}
		if _, start := p.PeriodOf(d); start.After(d) || !p.NextPeriod(d).After(d) {
			t.Fatalf("period of %s starts %s, next %s", d, start, p.NextPeriod(d))
		}
	})
}
